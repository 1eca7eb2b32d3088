// The guest's side of the event-channel ABIs, written from xen-hvm-interfaces.md §3/§4
// ("Guest consumer (Linux)"), for tests and the stress workers: a Linux-style FIFO consumer
// (ready xchg, per-queue local head, clear_linked cmpxchg loop, test-and-clear PENDING
// before handling), the guest's FIFO unmask (clear MASKED unless BUSY; EVTCHNOP_unmask if
// PENDING) and a 2-level upcall handler. Works on Atomics views of guest RAM, so it can run
// on any thread concurrently with the VMM's delivery code. Not used by the VMM itself.
import { CB_HEAD, CB_READY, EVTCHN_FIFO_BUSY, EVTCHN_FIFO_LINK_MASK, EVTCHN_FIFO_LINKED, EVTCHN_FIFO_MASKED, EVTCHN_FIFO_PENDING } from '../fifo.js';
import { SHINFO_MASK_64, SHINFO_PENDING_64 } from '../two-level.js';
import { VI_PENDING_SEL_64, VI_UPCALL_PENDING } from '../shared-info.js';

export class FifoGuest {
  private readonly localHead = new Int32Array(16);

  /**
   * @param g32 Int32 view of the whole guest-memory buffer
   * @param cbOff byte offset of this vCPU's control block in that buffer
   * @param pageOffs byte offsets of the event-array pages (index = page number)
   */
  constructor(
    private readonly g32: Int32Array,
    private readonly cbOff: number,
    private readonly pageOffs: number[],
  ) {}

  wordIndex(port: number): number {
    const off = this.pageOffs[port >>> 10];
    return off === undefined ? -1 : (off + (port & 1023) * 4) / 4;
  }

  /** __evtchn_fifo_handle_events: returns the ports handled, in order. */
  handleEvents(onPort: (port: number) => void): void {
    const readyIdx = (this.cbOff + CB_READY) / 4;
    let ready = Atomics.exchange(this.g32, readyIdx, 0);
    while (ready) {
      const q = 31 - Math.clz32(ready & -ready);
      ready = this.consumeOne(q, ready, onPort);
      ready |= Atomics.exchange(this.g32, readyIdx, 0);
    }
  }

  private consumeOne(q: number, ready: number, onPort: (port: number) => void): number {
    let head = this.localHead[q]!;
    if (head === 0) head = Atomics.load(this.g32, (this.cbOff + CB_HEAD) / 4 + q);
    const port = head;
    const wi = this.wordIndex(port);
    let next = 0;
    if (wi >= 0) {
      // clear_linked: cmpxchg loop clearing LINKED | LINK, returning the old LINK.
      let w = Atomics.load(this.g32, wi);
      for (;;) {
        const x = Atomics.compareExchange(this.g32, wi, w, w & ~(EVTCHN_FIFO_LINKED | EVTCHN_FIFO_LINK_MASK));
        if (x === w) break;
        w = x;
      }
      next = w & EVTCHN_FIFO_LINK_MASK;
    }
    if (next === 0) ready &= ~(1 << q);
    if (wi >= 0 && port !== 0) {
      const w = Atomics.load(this.g32, wi);
      // ack (clear PENDING) then handle; test-and-clear so a handled event is counted once.
      if (w & EVTCHN_FIFO_PENDING && !(w & EVTCHN_FIFO_MASKED)) {
        const old = Atomics.and(this.g32, wi, ~EVTCHN_FIFO_PENDING);
        if (old & EVTCHN_FIFO_PENDING) onPort(port);
      }
    }
    this.localHead[q] = next;
    return ready;
  }

  mask(port: number): void {
    Atomics.or(this.g32, this.wordIndex(port), EVTCHN_FIFO_MASKED);
  }

  /** Linux evtchn_fifo_unmask: clear_masked_cond; if it found PENDING, call `hypercall`. */
  unmask(port: number, hypercall: (port: number) => void): void {
    const wi = this.wordIndex(port);
    let old = Atomics.load(this.g32, wi);
    for (;;) {
      if (!(old & EVTCHN_FIFO_MASKED)) return;
      if (old & EVTCHN_FIFO_PENDING) {
        hypercall(port);
        return;
      }
      const expect = old & ~EVTCHN_FIFO_BUSY;
      const x = Atomics.compareExchange(this.g32, wi, expect, expect & ~EVTCHN_FIFO_MASKED);
      if (x === expect) return;
      old = x;
    }
  }
}

/** A 64-bit guest's 2-level upcall handler (Linux xen_evtchn_do_upcall, 2L). */
export class TwoLevelGuest {
  constructor(
    private readonly u8: Uint8Array,
    private readonly u64: BigUint64Array,
    private readonly shinfoOff: number,
    private readonly vcpuInfoOff: number,
  ) {}

  /** Clear upcall_pending, xchg pending_sel, scan pending & ~mask, test-and-clear each. */
  handleUpcall(onPort: (port: number) => void): void {
    do {
      Atomics.store(this.u8, this.vcpuInfoOff + VI_UPCALL_PENDING, 0);
      const sel = Atomics.exchange(this.u64, (this.vcpuInfoOff + VI_PENDING_SEL_64) / 8, 0n);
      for (let word = 0; word < 64; word++) {
        if (!((sel >> BigInt(word)) & 1n)) continue;
        const pIdx = (this.shinfoOff + SHINFO_PENDING_64) / 8 + word;
        const mIdx = (this.shinfoOff + SHINFO_MASK_64) / 8 + word;
        const bits = Atomics.load(this.u64, pIdx) & ~Atomics.load(this.u64, mIdx);
        for (let b = 0; b < 64; b++) {
          const m = 1n << BigInt(b);
          if (!(bits & m)) continue;
          const old = Atomics.and(this.u64, pIdx, ~m & 0xffffffffffffffffn);
          if (old & m) onPort(word * 64 + b);
        }
      }
    } while (Atomics.load(this.u8, this.vcpuInfoOff + VI_UPCALL_PENDING));
  }
}
