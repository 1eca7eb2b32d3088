// The FIFO event-channel ABI (xen-hvm-interfaces.md §4; Xen xen/common/event_fifo.c):
// per-vCPU control blocks and the event array (up to 128 guest pages of 1024 event words)
// in guest RAM, plus hypervisor-private state in this module's SharedArrayBuffer: the
// registration (control-block and array-page GPAs), and one {lock, tail} pair per
// (vCPU, priority) queue. Data flow: delivery.ts calls setPending/unmask on the fast path;
// the control path (ops.ts) calls initControl/expandArray/reset.
//
// Locking / threading rules:
//  - setPending runs on any thread. It locks the port's last queue and its target queue
//    (queue-lock.ts, ascending index order), re-reads LASTQ (≤ 3 tries, else the event is
//    dropped and counted), and only then touches PENDING (Juergen Gross's 2020 rework), so
//    two senders can never interleave a link. The queue tail is private and only read or
//    written under its lock. READY is set only for a new HEAD, after the locks are
//    dropped; the upcall is injected by the caller, never under a lock.
//  - The guest may concurrently clear PENDING/LINKED/MASKED: the tail's LINK is set with
//    cmpxchg only while the tail is LINKED; after a failed cmpxchg the tail is marked BUSY
//    (the guest will not clear MASKED while BUSY) and retried ≤ 4 times.
//  - Registration is written only on the host thread; GPAs are stored before the Int32
//    count/valid word that publishes them (control block published last, XSA-358).
import { EINVAL, ENOENT, ENOSPC, EOPNOTSUPP } from '../errno.js';
import type { PortTable } from './port-table.js';
import { EV_DROPPED, EV_MASKED, EV_NEW, EV_SHADOW, EV_UPCALL, type Outcome } from './outcome.js';
import { lockPair, unlockPair } from './queue-lock.js';
import { PAGE_SIZE, type SharedInfo } from './shared-info.js';

export const EVTCHN_FIFO_PENDING = 1 << 31;
export const EVTCHN_FIFO_MASKED = 1 << 30;
export const EVTCHN_FIFO_LINKED = 1 << 29;
export const EVTCHN_FIFO_BUSY = 1 << 28;
export const EVTCHN_FIFO_LINK_BITS = 17;
export const EVTCHN_FIFO_LINK_MASK = (1 << EVTCHN_FIFO_LINK_BITS) - 1;
export const EVTCHN_FIFO_MAX_QUEUES = 16;
export const EVTCHN_FIFO_PRIORITY_MIN = 15;
export const EVENT_WORDS_PER_PAGE = 1024;
export const MAX_EVENT_ARRAY_PAGES = 128;
/** sizeof(evtchn_fifo_control_block): ready u32 @0, _rsvd @4, head[16] u32 @8. */
export const CONTROL_BLOCK_SIZE = 72;
export const CB_READY = 0;
export const CB_HEAD = 8;
/** Xen's retry limits: lastq re-reads (evtchn_fifo_set_pending), tail cmpxchg (set_link). */
export const LASTQ_TRIES = 3;
export const LINK_TRIES = 4;


// Int32 area: [0] active, [1] nrPages, [2] lost (lastq retries), [3] link failures,
// [4 + v] control block valid, then (v * 16 + prio) * 2 + {0 lock, 1 tail}.
const I_ACTIVE = 0;
const I_PAGES = 1;
const I_LOST = 2;
const I_LINKFAIL = 3;
const I_CB = 4;

export interface FifoRegistration {
  controlBlocks: (number | null)[];
  arrayPages: number[];
}

export class Fifo {
  private readonly f64: Float64Array; // cbGpa[v], cbOff[v], pageGpa[128], pageOff[128]
  private readonly i32: Int32Array;
  private readonly qBase: number;
  private readonly g32: Int32Array;

  private constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly sh: SharedInfo,
    private readonly ports: PortTable,
    readonly nrVcpus: number,
  ) {
    const nf = 2 * nrVcpus + 2 * MAX_EVENT_ARRAY_PAGES;
    this.f64 = new Float64Array(buffer, 0, nf);
    this.i32 = new Int32Array(buffer, nf * 8);
    this.qBase = I_CB + nrVcpus;
    this.g32 = sh.views.i32;
  }

  static create(sh: SharedInfo, ports: PortTable, nrVcpus: number): Fifo {
    const bytes = (2 * nrVcpus + 2 * MAX_EVENT_ARRAY_PAGES) * 8 + (I_CB + nrVcpus + nrVcpus * EVTCHN_FIFO_MAX_QUEUES * 2) * 4;
    return new Fifo(new SharedArrayBuffer(bytes), sh, ports, nrVcpus);
  }

  static attach(buffer: SharedArrayBuffer, sh: SharedInfo, ports: PortTable, nrVcpus: number): Fifo {
    return new Fifo(buffer, sh, ports, nrVcpus);
  }

  get active(): boolean {
    return Atomics.load(this.i32, I_ACTIVE) !== 0;
  }
  get nrPages(): number {
    return Atomics.load(this.i32, I_PAGES);
  }
  /** Ports currently backed by event-array pages. */
  get nrBacked(): number {
    return this.nrPages * EVENT_WORDS_PER_PAGE;
  }
  get lostEvents(): number {
    return Atomics.load(this.i32, I_LOST);
  }
  get linkFailures(): number {
    return Atomics.load(this.i32, I_LINKFAIL);
  }

  /** Index of a port's event word in the guest-memory Int32 view, or -1 when unbacked. */
  wordIndex(port: number): number {
    if (!(port >= 0)) return -1;
    const page = port >>> 10;
    if (page >= this.nrPages) return -1;
    return (this.f64[2 * this.nrVcpus + MAX_EVENT_ARRAY_PAGES + page]! + (port & 1023) * 4) / 4;
  }

  /** Byte offset of a vCPU's control block in the guest-memory buffer, or -1. */
  controlBlockOffset(vcpu: number): number {
    if (!(vcpu >= 0 && vcpu < this.nrVcpus) || !Atomics.load(this.i32, I_CB + vcpu)) return -1;
    return this.f64[this.nrVcpus + vcpu]!;
  }

  private queueLock(q: number): number {
    return this.qBase + q * 2;
  }
  private tail(q: number): number {
    return Atomics.load(this.i32, this.qBase + q * 2 + 1);
  }
  private setTail(q: number, port: number): void {
    Atomics.store(this.i32, this.qBase + q * 2 + 1, port);
  }

  // ---------------- control path (host thread) ----------------

  /**
   * EVTCHNOP_init_control checks and mapping (§4). Returns 0 or an errno; `first` tells the
   * caller this call switched the domain to FIFO (it must then shadow 2L pending bits).
   */
  initControl(vcpu: number, gfn: bigint, offset: number): { rc: number; first: boolean } {
    if (offset > PAGE_SIZE - CONTROL_BLOCK_SIZE || offset & 7) return { rc: -EINVAL, first: false };
    if (!(vcpu >= 0 && vcpu < this.nrVcpus)) return { rc: -ENOENT, first: false };
    if (this.controlBlockOffset(vcpu) >= 0) return { rc: -EINVAL, first: false };
    const gpa = gfnToGpa(gfn);
    const off = gpa < 0 ? -1 : this.sh.bufferOffset(gpa + offset, CONTROL_BLOCK_SIZE);
    if (off < 0) return { rc: -EINVAL, first: false };
    const first = !this.active;
    if (first) this.clearQueues();
    this.f64[vcpu] = gpa + offset;
    this.f64[this.nrVcpus + vcpu] = off;
    Atomics.store(this.i32, I_CB + vcpu, 1);
    if (first) Atomics.store(this.i32, I_ACTIVE, 1);
    return { rc: 0, first };
  }

  /** EVTCHNOP_expand_array: map the next event-array page. 0 or errno. */
  expandArray(gfn: bigint): number {
    if (!this.active) return -EOPNOTSUPP;
    const n = this.nrPages;
    if (n >= MAX_EVENT_ARRAY_PAGES) return -ENOSPC;
    const gpa = gfnToGpa(gfn);
    const off = gpa < 0 ? -1 : this.sh.bufferOffset(gpa, PAGE_SIZE);
    if (off < 0 || off % 4 !== 0) return -EINVAL;
    this.f64[2 * this.nrVcpus + n] = gpa;
    this.f64[2 * this.nrVcpus + MAX_EVENT_ARRAY_PAGES + n] = off;
    Atomics.store(this.i32, I_PAGES, n + 1);
    return 0;
  }

  /** Back to no FIFO state (EVTCHNOP_reset → 2L). */
  reset(): void {
    Atomics.store(this.i32, I_ACTIVE, 0);
    for (let v = 0; v < this.nrVcpus; v++) Atomics.store(this.i32, I_CB + v, 0);
    Atomics.store(this.i32, I_PAGES, 0);
    this.clearQueues();
  }

  private clearQueues(): void {
    this.i32.fill(0, this.qBase, this.qBase + this.nrVcpus * EVTCHN_FIFO_MAX_QUEUES * 2);
  }

  registration(): FifoRegistration {
    const controlBlocks: (number | null)[] = [];
    for (let v = 0; v < this.nrVcpus; v++) controlBlocks.push(this.controlBlockOffset(v) >= 0 ? this.f64[v]! : null);
    const arrayPages: number[] = [];
    for (let i = 0; i < this.nrPages; i++) arrayPages.push(this.f64[2 * this.nrVcpus + i]!);
    return { controlBlocks, arrayPages };
  }

  /** Restore: re-map registration, then rebuild the private tails from guest memory. */
  restore(r: FifoRegistration): void {
    this.reset();
    r.controlBlocks.forEach((gpa, v) => {
      if (gpa === null || v >= this.nrVcpus) return;
      const off = this.sh.bufferOffset(gpa, CONTROL_BLOCK_SIZE);
      if (off < 0) return;
      this.f64[v] = gpa;
      this.f64[this.nrVcpus + v] = off;
      Atomics.store(this.i32, I_CB + v, 1);
    });
    Atomics.store(this.i32, I_ACTIVE, 1);
    for (const gpa of r.arrayPages) this.expandArray(BigInt(gpa / PAGE_SIZE));
    this.rebuildTails();
  }

  /**
   * Recompute each queue's private tail (and the ports' LASTQ) by walking the guest's
   * queue from head[q] while events are LINKED. Bounded by the port capacity.
   */
  rebuildTails(): void {
    for (let v = 0; v < this.nrVcpus; v++) {
      const cb = this.controlBlockOffset(v);
      if (cb < 0) continue;
      for (let prio = 0; prio < EVTCHN_FIFO_MAX_QUEUES; prio++) {
        const q = v * EVTCHN_FIFO_MAX_QUEUES + prio;
        let cur = Atomics.load(this.g32, (cb + CB_HEAD) / 4 + prio) & EVTCHN_FIFO_LINK_MASK;
        let tail = 0;
        for (let steps = 0; cur !== 0 && steps < this.ports.capacity; steps++) {
          const wi = this.wordIndex(cur);
          if (wi < 0) break;
          const w = Atomics.load(this.g32, wi);
          if (!(w & EVTCHN_FIFO_LINKED)) break;
          tail = cur;
          this.ports.setLastq(cur, (v << 4) | prio);
          cur = w & EVTCHN_FIFO_LINK_MASK;
        }
        this.setTail(q, tail);
      }
    }
  }

  // ---------------- fast path (any thread) ----------------

  /** evtchn_fifo_set_pending(v, port) with the port's current priority (§4 link algorithm). */
  setPending(port: number, vcpu: number, priority: number): Outcome {
    const wi = this.wordIndex(port);
    if (wi < 0) return this.ports.setShadow(port, 1) ? EV_SHADOW : EV_NEW | EV_SHADOW;
    if (!(vcpu >= 0 && vcpu < this.nrVcpus) || !(priority >= 0 && priority <= EVTCHN_FIFO_PRIORITY_MIN)) return EV_DROPPED;
    const q = vcpu * EVTCHN_FIFO_MAX_QUEUES + priority;
    let oldq = -1;
    for (let t = 0; t < LASTQ_TRIES; t++) {
      const lq = this.ports.lastq(port);
      const cand = this.lastqIndex(lq, q);
      lockPair(this.i32, this.queueLock(q), this.queueLock(cand));
      if (this.ports.lastq(port) === lq) {
        oldq = cand;
        break;
      }
      unlockPair(this.i32, this.queueLock(q), this.queueLock(cand));
    }
    if (oldq < 0) {
      Atomics.add(this.i32, I_LOST, 1);
      return EV_DROPPED;
    }
    let wasPending = false;
    let masked = false;
    let setReady = false;
    const cb = this.controlBlockOffset(vcpu);
    try {
      if (cb < 0) return EV_DROPPED; // guest must not unmask before init_control: drop
      wasPending = (Atomics.or(this.g32, wi, EVTCHN_FIFO_PENDING) & EVTCHN_FIFO_PENDING) !== 0;
      masked = (Atomics.load(this.g32, wi) & EVTCHN_FIFO_MASKED) !== 0;
      if (!masked && !(Atomics.or(this.g32, wi, EVTCHN_FIFO_LINKED) & EVTCHN_FIFO_LINKED)) {
        // If this event was the old queue's tail, that queue is now empty.
        if (this.tail(oldq) === port) this.setTail(oldq, 0);
        if (oldq !== q) this.ports.setLastq(port, (vcpu << 4) | priority);
        const t = this.tail(q);
        const linked = t !== 0 && this.setLink(t, port);
        if (!linked) {
          Atomics.store(this.g32, (cb + CB_HEAD) / 4 + priority, port);
          setReady = true;
        }
        this.setTail(q, port);
      }
    } finally {
      unlockPair(this.i32, this.queueLock(q), this.queueLock(oldq));
    }
    let out: Outcome = wasPending ? 0 : EV_NEW | (masked ? EV_MASKED : 0);
    if (setReady) {
      const bit = 1 << priority;
      const old = Atomics.or(this.g32, (cb + CB_READY) / 4, bit);
      if (!(old & bit) && this.sh.markUpcallPending(vcpu)) out |= EV_UPCALL;
    }
    return out;
  }

  private lastqIndex(lq: number, fallback: number): number {
    const v = lq >>> 4;
    return v < this.nrVcpus ? v * EVTCHN_FIFO_MAX_QUEUES + (lq & 15) : fallback;
  }

  /** Set the tail word's LINK iff it is still LINKED (evtchn_fifo_set_link). */
  private setLink(tailPort: number, port: number): boolean {
    const idx = this.wordIndex(tailPort);
    if (idx < 0) return false;
    const g = this.g32;
    let w = Atomics.load(g, idx);
    const attempt = (): number => {
      if (!(w & EVTCHN_FIFO_LINKED)) return 0;
      const nw = (w & ~(EVTCHN_FIFO_BUSY | EVTCHN_FIFO_LINK_MASK)) | port;
      const x = Atomics.compareExchange(g, idx, w, nw);
      if (x === w) return 1;
      w = x;
      return -1;
    };
    let r = attempt();
    if (r >= 0) return r === 1;
    Atomics.or(g, idx, EVTCHN_FIFO_BUSY); // lock the word against guest unmask
    w = Atomics.load(g, idx);
    for (let t = 0; t < LINK_TRIES; t++) {
      r = attempt();
      if (r >= 0) {
        if (r === 0) Atomics.and(g, idx, ~EVTCHN_FIFO_BUSY);
        return r === 1;
      }
    }
    Atomics.and(g, idx, ~EVTCHN_FIFO_BUSY);
    Atomics.add(this.i32, I_LINKFAIL, 1);
    return true;
  }

  /** EVTCHNOP_unmask under FIFO: clear MASKED; if PENDING, relink (set_pending again). */
  unmask(port: number, vcpu: number, priority: number): Outcome | undefined {
    const wi = this.wordIndex(port);
    if (wi < 0) return undefined;
    const old = Atomics.and(this.g32, wi, ~EVTCHN_FIFO_MASKED);
    if (!((old | Atomics.load(this.g32, wi)) & EVTCHN_FIFO_PENDING)) return undefined;
    return this.setPending(port, vcpu, priority);
  }

  /** Clear PENDING only (close); the guest unlinks the event itself. */
  clearPending(port: number): void {
    const wi = this.wordIndex(port);
    if (wi >= 0) Atomics.and(this.g32, wi, ~EVTCHN_FIFO_PENDING);
    this.ports.setShadow(port, 0);
  }

  isPending(port: number): boolean {
    const wi = this.wordIndex(port);
    if (wi < 0) return this.ports.shadow(port) !== 0;
    return (Atomics.load(this.g32, wi) & EVTCHN_FIFO_PENDING) !== 0;
  }

  isMasked(port: number): boolean {
    const wi = this.wordIndex(port);
    return wi >= 0 && (Atomics.load(this.g32, wi) & EVTCHN_FIFO_MASKED) !== 0;
  }

  /** A port whose event word is still LINKED is busy and must not be reallocated. */
  isBusy(port: number): boolean {
    const wi = this.wordIndex(port);
    return wi >= 0 && (Atomics.load(this.g32, wi) & EVTCHN_FIFO_LINKED) !== 0;
  }
}

/** GFN (u64 from the guest) → GPA, or -1 when it cannot be a RAM address. */
export function gfnToGpa(gfn: bigint): number {
  if (gfn < 0n || gfn >= 1n << 40n) return -1;
  return Number(gfn) * PAGE_SIZE;
}
