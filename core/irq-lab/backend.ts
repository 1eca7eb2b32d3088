// The irq-lab device model as it runs in its own process (devices/irq-lab.ts is the entry
// that wires it to a socket). It owns one eventfd per MSI-X and MSI vector and the INTx
// trigger/resample pair, all received from the VMM: raising a vector is an eventfd write,
// and the VMM's interrupt layer decides where that goes (irqfd, userspace, fallback).
//
// Data flow: VMM command (decoded by protocol.ts) -> handle(). Raises (FIRE, BURST,
// FIRE_RANGE) go through one FIFO of jobs so they keep the guest's order; a job runs in
// slices of RAISES_PER_SLICE on the event loop so a million-raise burst never starves the
// socket (ACKs keep being paired while it runs). Per raise: bump the sequence-page counter
// (Atomics.add on the mapped guest page), record the time, write the eventfd.
// INTx is level-triggered work: the line is asserted while INTX is 1, while INTX_AUTO items
// are outstanding, or for one pulse (FIRE without MSI/MSI-X); on every resample (EOI) the
// device re-signals if it still asserts, and a pulse ends.
// SEQ_PAGE is a barrier in the same FIFO: raises queued before it bump the old page, raises
// after it the new one. ACKs and INTx commands act at once (they never wait behind raises:
// an ACK answers a raise already performed).
// Flow control: every command counts as finished once handled (a raise command once its
// last raise is done, a queued SEQ_PAGE once applied); the totals of finished commands and
// performed raises go back to the VMM in CREDIT replies, every CREDIT_EVERY commands and
// at the end of any event-loop turn that made progress (core/irq-lab/flow.ts, VMM side).
// Everything the VMM sends is validated; a bad command throws IrqLabProtocolError and the
// caller closes the connection. Single-threaded (the process's main thread).
import type { MemRegionDesc } from '../vhost/protocol.js';
import { IrqLabProtocolError, PROTOCOL_VERSION, type Command, type CreditReply, type DeviceStatsReply } from './protocol.js';
import { LatencyTracker } from './latency.js';
import { RaiseKind, SEQ_PAGE_SIZE, SEQ_PAGE_VECTORS } from './regs.js';

/** Raises done per event-loop turn while a burst runs. */
export const RAISES_PER_SLICE = 4096;
/** A CREDIT goes out at once after this many finished commands (else at the end of the turn). */
export const CREDIT_EVERY = 16;
const U32 = 2 ** 32;

export interface MappedMemory {
  slice(gpa: number, len: number): Uint8Array | undefined;
  unmap(): void;
}

/** The system calls the backend needs (native in the process, fakes in unit tests). */
export interface BackendOps {
  /** Add 1 to an eventfd; false if the write failed. */
  signal(fd: number): boolean;
  close(fd: number): void;
  /** Monotonic nanoseconds. */
  now(): number;
  watch(fd: number, cb: (count: number) => void): void;
  unwatch(fd: number): void;
  mapMemory(regions: MemRegionDesc[], fds: number[]): MappedMemory;
  /** Run `fn` on a later event-loop turn. */
  defer(fn: () => void): void;
}

interface RaiseJob {
  kind: RaiseKind;
  vector: number;
  remaining: number;
  /** FIRE_RANGE: the next vector goes up by one per raise. */
  step: 0 | 1;
}

/** A SEQ_PAGE that arrived while raises were queued: applied when it reaches the FIFO's head. */
interface SeqBarrier {
  seq: Int32Array | undefined;
}

type Job = RaiseJob | SeqBarrier;

export class IrqLabBackend {
  private setupDone = false;
  private ready = false;
  private msix: number[] = [];
  private msi: number[] = [];
  private hasIntx = false;
  private intxFd = -1;
  private resampleFd = -1;
  private memory: MappedMemory | undefined;
  private seq: Int32Array | undefined;
  private latency = new LatencyTracker(1);
  private counts = new Float64Array(1);
  private readonly jobs: Job[] = [];
  private running = false;
  private closed = false;
  private intxManual = false;
  private intxAuto = 0;
  private intxPulse = false;
  readonly stats = { fired: 0, acked: 0, raiseErrors: 0, intxSignals: 0, resamples: 0 };
  /** Finished commands and performed raises since the connection started, and what CREDIT last said. */
  private readonly done = { commands: 0, raises: 0 };
  private readonly reported = { commands: 0, raises: 0 };
  private creditScheduled = false;

  constructor(
    private readonly ops: BackendOps,
    private readonly reply: {
      readyAck(version: number): void;
      stats(s: DeviceStatsReply, counts: Float64Array): void;
      credit(c: CreditReply): void;
    },
  ) {}

  get isReady(): boolean {
    return this.ready;
  }
  /** Raises queued but not yet done (bursts in progress). */
  get queuedRaises(): number {
    return this.jobs.reduce((n, j) => n + ('remaining' in j ? j.remaining : 0), 0);
  }
  get intxAsserted(): boolean {
    return this.intxManual || this.intxAuto > 0 || this.intxPulse;
  }

  handle(c: Command): void {
    if (this.closed) return;
    if (c.op !== 'setup' && !this.setupDone) return this.refuse(c, `${c.op} before SETUP`);
    if (!this.apply(c)) this.commandDone();
    this.scheduleCredit();
  }

  /** Act on one command; true when it was queued (it finishes later, in runJobs). */
  private apply(c: Command): boolean {
    switch (c.op) {
      case 'setup':
        if (this.setupDone) throw new IrqLabProtocolError('SETUP sent twice');
        this.setupDone = true;
        this.msix = new Array<number>(c.msixVectors).fill(-1);
        this.msi = new Array<number>(c.msiVectors).fill(-1);
        this.hasIntx = c.intx;
        this.latency = new LatencyTracker(this.vectorSpace);
        this.counts = new Float64Array(this.vectorSpace);
        return false;
      case 'msix-fds':
      case 'msi-fds': {
        const table = c.op === 'msix-fds' ? this.msix : this.msi;
        if (c.first + c.fds.length > table.length) return this.refuse(c, `vectors ${c.first}..${c.first + c.fds.length - 1} beyond ${table.length}`);
        c.fds.forEach((fd, i) => {
          const old = table[c.first + i]!;
          if (old >= 0) this.ops.close(old);
          table[c.first + i] = fd;
        });
        return false;
      }
      case 'intx-fds':
        if (!this.hasIntx) return this.refuse(c, 'INTx fds for a device set up without INTx');
        this.dropIntxFds();
        this.intxFd = c.trigger;
        this.resampleFd = c.resample;
        this.ops.watch(this.resampleFd, (n) => this.onResample(n));
        return false;
      case 'mem-table':
        this.memory?.unmap();
        this.seq = undefined;
        this.memory = this.ops.mapMemory(c.regions, c.fds); // takes the fds, throws on bad regions
        return false;
      case 'seq-page': {
        let seq: Int32Array | undefined;
        if (c.gpa !== 0) {
          const page = this.memory?.slice(c.gpa, SEQ_PAGE_SIZE);
          if (!page || !(page.buffer instanceof SharedArrayBuffer)) return this.refuse(c, `sequence page 0x${c.gpa.toString(16)} is not in guest RAM`);
          seq = new Int32Array(page.buffer, page.byteOffset, SEQ_PAGE_VECTORS);
        }
        if (this.jobs.length === 0) {
          this.seq = seq;
          return false;
        }
        this.jobs.push({ seq }); // raises queued before it still bump the old page
        return true;
      }
      case 'ready':
        this.ready = true;
        this.reply.readyAck(PROTOCOL_VERSION);
        return false;
      case 'fire':
        this.checkVector(c, c.kind, c.vector);
        return this.enqueue({ kind: c.kind, vector: c.vector, remaining: 1, step: 0 });
      case 'burst':
        this.checkVector(c, c.kind, c.vector);
        return this.enqueue({ kind: c.kind, vector: c.vector, remaining: c.count, step: 0 });
      case 'fire-range':
        this.checkVector(c, c.kind, c.last);
        return this.enqueue({ kind: c.kind, vector: c.first, remaining: c.last - c.first + 1, step: 1 });
      case 'intx':
        this.needIntx(c);
        this.setIntx(() => (this.intxManual = c.level));
        return false;
      case 'intx-auto':
        this.needIntx(c);
        this.setIntx(() => (this.intxAuto = Math.min(this.intxAuto + c.items, Number.MAX_SAFE_INTEGER)));
        return false;
      case 'ack-intx':
        this.needIntx(c);
        this.setIntx(() => (this.intxAuto = Math.max(0, this.intxAuto - 1)));
        return false;
      case 'ack':
        if (c.vector >= this.vectorSpace) return this.refuse(c, `vector ${c.vector} beyond ${this.vectorSpace}`);
        this.stats.acked++;
        this.latency.acked(c.vector, this.ops.now());
        return false;
      case 'get-stats':
        this.reply.stats(this.snapshot(c.token), this.counts);
        return false;
    }
  }

  snapshot(token = 0): DeviceStatsReply {
    const l = this.latency;
    return {
      token, vectors: this.vectorSpace, fired: this.stats.fired, acked: this.stats.acked, paired: l.paired, unpaired: l.unpaired,
      dropped: l.dropped, raiseErrors: this.stats.raiseErrors, intxSignals: this.stats.intxSignals, resamples: this.stats.resamples,
      buckets: Array.from(l.buckets),
    };
  }

  /** Release every fd and mapping (connection closed or SIGTERM). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.jobs.length = 0;
    for (const fd of [...this.msix, ...this.msi]) if (fd >= 0) this.ops.close(fd);
    this.msix = [];
    this.msi = [];
    this.dropIntxFds();
    this.seq = undefined;
    this.memory?.unmap();
    this.memory = undefined;
  }

  // ---- raises -----------------------------------------------------------------------------

  /** Vector numbers any raise kind may use: the largest table (counts, latency). */
  private get vectorSpace(): number {
    return Math.max(1, this.msix.length, this.msi.length);
  }

  private checkVector(c: Command, kind: RaiseKind, last: number): void {
    const limit = kind === RaiseKind.msix ? this.msix.length : kind === RaiseKind.msi ? this.msi.length : this.vectorSpace;
    if (last >= limit) this.refuse(c, `vector ${last} beyond the ${limit} ${kind === RaiseKind.msix ? 'MSI-X' : kind === RaiseKind.msi ? 'MSI' : 'INTx'} vectors`);
    if (kind === RaiseKind.intx) this.needIntx(c);
  }

  /** Queue a raise job (run at once when the FIFO was idle); true: it finishes in runJobs. */
  private enqueue(job: RaiseJob): true {
    this.jobs.push(job);
    if (!this.running) this.runJobs();
    return true;
  }

  private runJobs(): void {
    this.running = true;
    let budget = RAISES_PER_SLICE;
    while (budget > 0 && this.jobs.length > 0 && !this.closed) {
      const j = this.jobs[0]!;
      if (!('remaining' in j)) {
        this.seq = j.seq;
        this.jobs.shift();
        this.commandDone();
        continue;
      }
      const n = Math.min(budget, j.remaining);
      for (let i = 0; i < n; i++) {
        this.raise(j.kind, j.vector);
        j.vector += j.step;
      }
      j.remaining -= n;
      budget -= n;
      this.done.raises += n;
      if (j.remaining === 0) {
        this.jobs.shift();
        this.commandDone();
      }
    }
    this.scheduleCredit();
    if (this.jobs.length > 0 && !this.closed) this.ops.defer(() => this.runJobs());
    else this.running = false;
  }

  // ---- flow control -----------------------------------------------------------------------

  private commandDone(): void {
    this.done.commands++;
    if (this.done.commands - this.reported.commands >= CREDIT_EVERY) this.sendCredit();
  }

  /** One CREDIT at the end of this turn if anything finished since the last one. */
  private scheduleCredit(): void {
    if (this.creditScheduled || this.closed) return;
    if (this.done.commands === this.reported.commands && this.done.raises === this.reported.raises) return;
    this.creditScheduled = true;
    this.ops.defer(() => {
      this.creditScheduled = false;
      this.sendCredit();
    });
  }

  private sendCredit(): void {
    if (this.closed || (this.done.commands === this.reported.commands && this.done.raises === this.reported.raises)) return;
    this.reported.commands = this.done.commands;
    this.reported.raises = this.done.raises;
    this.reply.credit({ commands: this.done.commands % U32, raises: this.done.raises % U32 });
  }

  private raise(kind: RaiseKind, v: number): void {
    if (this.seq && v < SEQ_PAGE_VECTORS) Atomics.add(this.seq, v, 1);
    this.latency.raised(v, this.ops.now());
    this.counts[v]!++;
    if (kind === RaiseKind.intx) {
      this.stats.fired++;
      return this.setIntx(() => (this.intxPulse = true));
    }
    const fd = (kind === RaiseKind.msix ? this.msix : this.msi)[v]!;
    if (fd >= 0 && this.ops.signal(fd)) this.stats.fired++;
    else this.stats.raiseErrors++;
  }

  // ---- INTx -------------------------------------------------------------------------------

  private needIntx(c: Command): void {
    if (!this.hasIntx) this.refuse(c, 'the device was set up without INTx');
  }

  /** Apply a change to the line's work items; signal on a rising edge. */
  private setIntx(change: () => void): void {
    const was = this.intxAsserted;
    change();
    if (!was && this.intxAsserted) this.signalIntx();
  }

  private signalIntx(): void {
    if (this.intxFd >= 0 && this.ops.signal(this.intxFd)) this.stats.intxSignals++;
    else this.stats.raiseErrors++;
  }

  /** The guest EOI'd the line and KVM (or the VMM's IOAPIC) deasserted it. */
  private onResample(count: number): void {
    if (this.closed) return;
    this.stats.resamples += count;
    this.intxPulse = false;
    if (this.intxAsserted) this.signalIntx();
  }

  private dropIntxFds(): void {
    if (this.resampleFd >= 0) {
      this.ops.unwatch(this.resampleFd);
      this.ops.close(this.resampleFd);
    }
    if (this.intxFd >= 0) this.ops.close(this.intxFd);
    this.intxFd = this.resampleFd = -1;
  }

  private refuse(c: Command, why: string): never {
    // fds that came with a refused command are ours to close
    if ('fds' in c) for (const fd of c.fds) this.ops.close(fd);
    if (c.op === 'intx-fds') {
      this.ops.close(c.trigger);
      this.ops.close(c.resample);
    }
    throw new IrqLabProtocolError(`${c.op}: ${why}`);
  }
}
