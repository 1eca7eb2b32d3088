// Flow control between the irq-lab VMM side and its device process (docs/irq-lab.md, "Flow
// control"). A guest (or the host benchmark) can ring FIRE/BURST far faster than the process
// raises; without a bound the socket fills and the link fails. This module decides, for every
// command the device wants to send, whether it goes now or waits, and what waiting costs.
//
// Data flow: IrqLabDevice -> CommandFlow.{raise, raiseRange, ack, seqPage, intxChanged} ->
// FlowSink.send (the DeviceLink). The sink reports what is in flight (commands and raises
// sent and not yet credited back by the process's CREDIT replies); on every CREDIT the
// device calls flush(). At most WINDOW commands and RAISE_BUDGET raises are in flight; raise
// commands may only use WINDOW - CONTROL_RESERVE slots, so ACKs and INTx changes still go
// at once while raises are backed up.
//
// What waits, and in which order (the rules that matter):
// - Raises wait coalesced: per (kind, vector) a count (FIRE = 1, BURST = n, FIRE_RANGE = 1
//   per vector), capped at QUEUED_RAISES_MAX per vector (beyond: dropped, counted). They are
//   sent as BURSTs, round-robin over vectors, in segments split by SEQ_PAGE.
// - SEQ_PAGE is a barrier: it never overtakes a queued raise and no later raise overtakes
//   it, so every raise bumps the page that was armed when the guest asked for it.
// - ACKs overtake queued raises: an ACK answers an interrupt the guest already took, i.e. a
//   raise the process already performed, so the pairing (oldest unacknowledged raise of v)
//   is the same, and the latency sample is not inflated by the backlog. A queued ACK is a
//   per-vector count (capped at QUEUED_ACKS_MAX; beyond: dropped, counted as lost samples).
// - INTx writes (INTX, INTX_AUTO, ACK_INTX) overtake queued raises (INTx pulses are a
//   separate term of the line's level) and are sent first of all: the process re-checks
//   the level when the guest EOIs, so an ACK_INTX the guest wrote before its EOI must reach
//   it as early as possible. They are not queued one by one: the VMM's registers hold the
//   level the guest sees, this module tracks the level the process has been told, and the
//   difference is sent as the fewest commands (INTX_AUTO, INTX, ACK_INTX; rises before
//   falls so the line never drops in between). A level that rose and fell while waiting is
//   never signalled, exactly as the guest's own INTX reads saw it.
// - No command is ever reordered behind a later one of a class it must precede: control
//   (INTx, ACK) goes before raises, raises never overtake earlier control.
// Memory is bounded by the vector count (3 kinds x 2048 entries per segment, MAX_SEGMENTS).
// Threading: VM host thread only. Pure logic, no I/O beyond FlowSink.
import { BURST_MAX, INTX_AUTO_MAX, type RaiseKind } from './regs.js';
import { MAX_MSIX_VECTORS, type Command } from './protocol.js';

/** Commands in flight (sent, not yet credited) at most. */
export const WINDOW = 64;
/** Slots of the window raises may not take: ACKs and INTx changes always find room. */
export const CONTROL_RESERVE = 16;
/** Raises in flight (sent to the process, not yet performed) at most: ~0.1-0.3 s of work. */
export const RAISE_BUDGET = 1 << 18;
/** Queued raise count per (kind, vector) at most; beyond it raises are dropped and counted. */
export const QUEUED_RAISES_MAX = 1 << 22;
/** Queued ACKs per vector at most; beyond it ACKs are dropped (lost latency samples). */
export const QUEUED_ACKS_MAX = 1 << 16;
/** SEQ_PAGE barriers pending at most; beyond, the newest replaces the last (its raises are dropped). */
export const MAX_SEGMENTS = 8;

const KIND_STRIDE = MAX_MSIX_VECTORS;

export interface FlowSink {
  /** Commands sent and not yet credited back. */
  inFlight(): number;
  /** Raises sent and not yet performed. */
  raisesInFlight(): number;
  /** Send now; false when the link is down (the command is lost; counted by the flow). */
  send(c: Command): boolean;
}

/** The INTx level state: INTX register (manual) and outstanding INTX_AUTO items. */
export interface IntxLevel {
  manual: boolean;
  auto: number;
}

export interface FlowCounters {
  /** Raise commands (FIRE, BURST, one per FIRE_RANGE vector) merged into a queued count. */
  coalesced: number;
  /** Times a command had to wait because the window or the raise budget was full. */
  deferred: number;
  /** Raises dropped: over QUEUED_RAISES_MAX, or still queued when the link went down. */
  droppedRaises: number;
  /** ACKs dropped: over QUEUED_ACKS_MAX, or still queued when the link went down. */
  droppedAcks: number;
  /** SEQ_PAGE writes that replaced a pending one because MAX_SEGMENTS were pending. */
  collapsedSeqPages: number;
  /** Commands the sink refused (the link went down under us). */
  unsent: number;
}

interface Segment {
  /** SEQ_PAGE to send before this segment's raises; undefined once sent (or for the first). */
  seq: number | undefined;
  /** Queued raises by kind * KIND_STRIDE + vector, in first-queued order. */
  counts: Map<number, number>;
}

export class CommandFlow {
  private readonly segments: Segment[] = [];
  private readonly acks = new Map<number, number>();
  private raisesQueued = 0;
  private acksQueued = 0;
  private intxDirty = false;
  /** The INTx level the process has been told (after every command sent so far). */
  private readonly told: IntxLevel;
  readonly counters: FlowCounters = { coalesced: 0, deferred: 0, droppedRaises: 0, droppedAcks: 0, collapsedSeqPages: 0, unsent: 0 };

  constructor(
    private readonly sink: FlowSink,
    /** The level the guest's registers show now (the target of INTx syncs). */
    private readonly intxTarget: () => IntxLevel,
    told: IntxLevel = { manual: false, auto: 0 },
  ) {
    this.told = { ...told };
  }

  /** Raises waiting in the VMM (not yet sent). */
  get queuedRaises(): number {
    return this.raisesQueued;
  }
  get queuedAcks(): number {
    return this.acksQueued;
  }
  /** Nothing waiting in the VMM. */
  get idle(): boolean {
    return this.segments.length === 0 && this.acksQueued === 0 && !this.intxDirty;
  }

  /** FIRE (count 1) or BURST (count n) of `vector`, already tagged with its kind. */
  raise(kind: RaiseKind, vector: number, count: number): void {
    if (this.segments.length === 0 && this.controlIdle && this.raiseRoom(count)) {
      this.send(count === 1 ? { op: 'fire', kind, vector } : { op: 'burst', kind, vector, count });
      return;
    }
    this.counters.deferred++;
    this.queueRaise(kind, vector, count);
    this.flush();
  }

  /** FIRE_RANGE first..last: one command when it can go now, else one queued raise per vector. */
  raiseRange(kind: RaiseKind, first: number, last: number): void {
    if (this.segments.length === 0 && this.controlIdle && this.raiseRoom(last - first + 1)) {
      this.send({ op: 'fire-range', kind, first, last });
      return;
    }
    this.counters.deferred++;
    for (let v = first; v <= last; v++) this.queueRaise(kind, v, 1);
    this.flush();
  }

  ack(vector: number): void {
    if (this.controlIdle && this.sink.inFlight() < WINDOW) {
      this.send({ op: 'ack', vector });
      return;
    }
    this.counters.deferred++;
    const n = this.acks.get(vector) ?? 0;
    if (n >= QUEUED_ACKS_MAX) {
      this.counters.droppedAcks++;
      return;
    }
    this.acks.set(vector, n + 1);
    this.acksQueued++;
    this.flush();
  }

  /** SEQ_PAGE: a barrier among raises (see the header). */
  seqPage(gpa: number): void {
    if (this.segments.length === 0) {
      if (this.controlIdle && this.sink.inFlight() < WINDOW) {
        this.send({ op: 'seq-page', gpa });
        return;
      }
      this.segments.push({ seq: gpa, counts: new Map() });
    } else {
      const last = this.segments[this.segments.length - 1]!;
      if (last.counts.size === 0 && last.seq !== undefined) {
        last.seq = gpa; // nothing between the two: the newer page wins
      } else if (this.segments.length >= MAX_SEGMENTS && last.seq !== undefined) {
        // A guest re-arming the page over and over while backed up: the raises queued under
        // the page it abandons are dropped (counted), the newest page takes the last slot.
        this.dropSegmentRaises(last);
        last.seq = gpa;
        this.counters.collapsedSeqPages++;
      } else {
        this.segments.push({ seq: gpa, counts: new Map() });
      }
    }
    this.counters.deferred++;
    this.flush();
  }

  /** A new process: it has been told nothing about INTx yet (call intxChanged() to sync). */
  resetIntx(): void {
    this.told.manual = false;
    this.told.auto = 0;
  }

  /** The guest changed INTX / INTX_AUTO / ACK_INTX: bring the process's level in line. */
  intxChanged(): void {
    this.intxDirty = true;
    this.flush();
  }

  /** Send what waits, as far as the window and the raise budget allow (after every CREDIT). */
  flush(): void {
    for (;;) {
      if (this.intxDirty) {
        if (this.sink.inFlight() >= WINDOW) return;
        const c = this.nextIntx(); // updates what the process has been told: send it now
        if (c) this.send(c);
        else this.intxDirty = false;
        continue;
      }
      if (this.acksQueued > 0) {
        if (this.sink.inFlight() >= WINDOW) return;
        const [vector, n] = this.acks.entries().next().value as [number, number];
        if (n <= 1) this.acks.delete(vector);
        else this.acks.set(vector, n - 1);
        this.acksQueued--;
        this.send({ op: 'ack', vector });
        continue;
      }
      const head = this.segments[0];
      if (!head) return;
      if (head.seq !== undefined) {
        if (this.sink.inFlight() >= WINDOW) return;
        const gpa = head.seq;
        head.seq = undefined;
        this.send({ op: 'seq-page', gpa });
        continue;
      }
      if (head.counts.size === 0) {
        this.segments.shift();
        continue;
      }
      const budget = RAISE_BUDGET - this.sink.raisesInFlight();
      if (this.sink.inFlight() >= WINDOW - CONTROL_RESERVE || budget <= 0) return;
      const [key, queued] = head.counts.entries().next().value as [number, number];
      const n = Math.min(queued, BURST_MAX, budget);
      head.counts.delete(key);
      if (queued > n) head.counts.set(key, queued - n); // to the back: round-robin over vectors
      this.raisesQueued -= n;
      const kind = Math.floor(key / KIND_STRIDE) as RaiseKind;
      const vector = key % KIND_STRIDE;
      this.send(n === 1 ? { op: 'fire', kind, vector } : { op: 'burst', kind, vector, count: n });
    }
  }

  /**
   * The link went down: everything waiting is lost (counted as dropped). A new process
   * starts from `told` (what its setup said about INTx).
   */
  discard(): void {
    for (const s of this.segments) this.dropSegmentRaises(s);
    this.segments.length = 0;
    this.counters.droppedAcks += this.acksQueued;
    this.acks.clear();
    this.acksQueued = 0;
    this.intxDirty = false;
  }

  // ---- internals ----------------------------------------------------------------------------

  private get controlIdle(): boolean {
    return !this.intxDirty && this.acksQueued === 0;
  }

  private raiseRoom(count: number): boolean {
    return this.sink.inFlight() < WINDOW - CONTROL_RESERVE && this.sink.raisesInFlight() + count <= RAISE_BUDGET;
  }

  private queueRaise(kind: RaiseKind, vector: number, count: number): void {
    if (this.segments.length === 0) this.segments.push({ seq: undefined, counts: new Map() });
    const seg = this.segments[this.segments.length - 1]!;
    const key = kind * KIND_STRIDE + vector;
    const had = seg.counts.get(key);
    const room = QUEUED_RAISES_MAX - (had ?? 0);
    const take = Math.min(count, room);
    if (take < count) this.counters.droppedRaises += count - take;
    if (take <= 0) return;
    if (had !== undefined) this.counters.coalesced++;
    seg.counts.set(key, (had ?? 0) + take);
    this.raisesQueued += take;
  }

  private dropSegmentRaises(s: Segment): void {
    for (const n of s.counts.values()) {
      this.counters.droppedRaises += n;
      this.raisesQueued -= n;
    }
    s.counts.clear();
  }

  /** The next command that moves the process's INTx level towards the registers' (rises first). */
  private nextIntx(): Command | undefined {
    const want = this.intxTarget();
    const told = this.told;
    if (want.auto > told.auto) {
      const items = Math.min(want.auto - told.auto, INTX_AUTO_MAX);
      told.auto += items;
      return { op: 'intx-auto', items };
    }
    if (want.manual !== told.manual && want.manual) {
      told.manual = true;
      return { op: 'intx', level: true };
    }
    if (want.manual !== told.manual) {
      told.manual = false;
      return { op: 'intx', level: false };
    }
    if (want.auto < told.auto) {
      told.auto--;
      return { op: 'ack-intx' };
    }
    return undefined;
  }

  private send(c: Command): void {
    if (!this.sink.send(c)) this.counters.unsent++;
  }
}
