// The last bytes a VM wrote to its serial console, so a console view opened late (or after
// a reload) starts with what the guest already said. Fixed capacity; old bytes fall off.
export const CONSOLE_BACKLOG_BYTES = 64 * 1024;

export class ConsoleRing {
  private readonly buf: Uint8Array;
  /** Next write position and bytes held (≤ capacity). */
  private at = 0;
  private held = 0;

  constructor(readonly capacity = CONSOLE_BACKLOG_BYTES) {
    this.buf = new Uint8Array(capacity);
  }

  push(data: Uint8Array): void {
    // Only the tail of an oversized chunk can survive.
    const src = data.length > this.capacity ? data.subarray(data.length - this.capacity) : data;
    const first = Math.min(src.length, this.capacity - this.at);
    this.buf.set(src.subarray(0, first), this.at);
    this.buf.set(src.subarray(first), 0);
    this.at = (this.at + src.length) % this.capacity;
    this.held = Math.min(this.capacity, this.held + src.length);
  }

  /** A copy of the held bytes, oldest first. */
  contents(): Uint8Array {
    const out = new Uint8Array(this.held);
    const start = (this.at - this.held + this.capacity) % this.capacity;
    const first = Math.min(this.held, this.capacity - start);
    out.set(this.buf.subarray(start, start + first), 0);
    out.set(this.buf.subarray(0, this.held - first), first);
    return out;
  }
}
