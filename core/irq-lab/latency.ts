// Device-to-handler latency bookkeeping of the irq-lab device process (docs/irq-lab.md,
// "Sequence page and latency protocol"): the host monotonic time of every raise goes into
// a per-vector FIFO; an ACK of vector v takes the oldest unacknowledged raise of v and
// adds (ack time - raise time) to a histogram with 1 µs buckets below 64 µs and power-of-
// two buckets above (64-127 µs, 128-255 µs, ... and one overflow bucket). Pure and
// synchronous; times are nanoseconds as plain numbers (exact for 104 days of uptime).

export const LINEAR_BUCKETS = 64;
/** Log2 buckets [2^k, 2^(k+1)) µs for k = 6 .. LOG2_LAST_EXP - 1, then overflow. */
export const LOG2_LAST_EXP = 26;
export const HISTOGRAM_BUCKETS = LINEAR_BUCKETS + (LOG2_LAST_EXP - 6) + 1;
/** Unacknowledged raises remembered per vector; older ones are dropped (counted). */
export const RAISES_PER_VECTOR = 1024;

/** Lower bound of bucket `i` in µs (the overflow bucket starts at 2^LOG2_LAST_EXP). */
export function bucketLowerUs(i: number): number {
  return i < LINEAR_BUCKETS ? i : 2 ** (i - LINEAR_BUCKETS + 6);
}

export function bucketOf(latencyNs: number): number {
  const us = Math.max(0, Math.floor(latencyNs / 1000));
  if (us < LINEAR_BUCKETS) return us;
  const exp = Math.floor(Math.log2(us));
  return Math.min(LINEAR_BUCKETS + exp - 6, HISTOGRAM_BUCKETS - 1);
}

class RaiseFifo {
  private readonly times = new Float64Array(RAISES_PER_VECTOR);
  private head = 0;
  size = 0;

  /** Returns true when an old entry had to be dropped. */
  push(t: number): boolean {
    let dropped = false;
    if (this.size === RAISES_PER_VECTOR) {
      this.head = (this.head + 1) % RAISES_PER_VECTOR;
      this.size--;
      dropped = true;
    }
    this.times[(this.head + this.size) % RAISES_PER_VECTOR] = t;
    this.size++;
    return dropped;
  }

  shift(): number | undefined {
    if (this.size === 0) return undefined;
    const t = this.times[this.head]!;
    this.head = (this.head + 1) % RAISES_PER_VECTOR;
    this.size--;
    return t;
  }
}

export class LatencyTracker {
  readonly buckets = new Uint32Array(HISTOGRAM_BUCKETS);
  private readonly fifos: (RaiseFifo | undefined)[];
  paired = 0;
  unpaired = 0;
  dropped = 0;

  constructor(readonly vectors: number) {
    this.fifos = new Array<RaiseFifo | undefined>(vectors);
  }

  raised(vector: number, tNs: number): void {
    const f = (this.fifos[vector] ??= new RaiseFifo());
    if (f.push(tNs)) this.dropped++;
  }

  acked(vector: number, tNs: number): void {
    const t0 = this.fifos[vector]?.shift();
    if (t0 === undefined) {
      this.unpaired++;
      return;
    }
    this.paired++;
    this.buckets[bucketOf(tNs - t0)]!++;
  }

  /** Forget outstanding raises (the VMM reset the device or the connection restarted). */
  clear(): void {
    this.fifos.fill(undefined);
  }
}
