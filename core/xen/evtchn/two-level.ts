// The 2-level event-channel ABI on guest memory: evtchn_pending[] / evtchn_mask[] in
// shared_info and evtchn_pending_sel / evtchn_upcall_pending in each vcpu_info.
// Data flow: delivery.ts calls setPending/unmask (fast path, any thread) and gets back what
// happened; it raises the upcall itself when the result is 'upcall' (upcall_pending 0→1).
//
// Threading: stateless apart from the SharedInfo locations; every guest-memory step is an
// atomic RMW (Atomics.or/and/exchange) in the order of xen-hvm-interfaces.md §3, so guest
// vCPUs and any number of VMM threads may run it concurrently.
//
// Layouts (§2): 64-bit: pending @0x800, mask @0xa00, 64 × u64 words, 4096 ports,
// pending_sel u64 @vcpu_info+8. 32-bit: pending @0x800, mask @0x880, 32 × u32, 1024 ports,
// pending_sel u32 @vcpu_info+4. Port p: word p / bits, bit p % bits; selector bit = word.
import { NR_2L_PORTS_32, NR_2L_PORTS_64 } from './port-table.js';
import { EV_DROPPED, EV_MASKED, EV_NEW, EV_UPCALL, type Outcome } from './outcome.js';
import { VI_PENDING_SEL_32, VI_PENDING_SEL_64, type SharedInfo } from './shared-info.js';

export const SHINFO_PENDING_64 = 0x800;
export const SHINFO_MASK_64 = 0xa00;
export const SHINFO_PENDING_32 = 0x800;
export const SHINFO_MASK_32 = 0x880;


interface BitRef {
  /** index into the u64 (long mode) or i32 view */
  idx: number;
  bit: number;
}

export class TwoLevel {
  constructor(private readonly sh: SharedInfo) {}

  get nrPorts(): number {
    return this.sh.longMode ? NR_2L_PORTS_64 : NR_2L_PORTS_32;
  }

  private ref(port: number, mask: boolean): BitRef | undefined {
    const base = this.sh.sharedInfoOffset();
    if (base < 0 || !(port >= 0 && port < this.nrPorts)) return undefined;
    if (this.sh.longMode) {
      const off = base + (mask ? SHINFO_MASK_64 : SHINFO_PENDING_64) + (port >> 6) * 8;
      return { idx: off / 8, bit: port & 63 };
    }
    const off = base + (mask ? SHINFO_MASK_32 : SHINFO_PENDING_32) + (port >> 5) * 4;
    return { idx: off / 4, bit: port & 31 };
  }

  private selRef(vcpu: number, port: number): BitRef | undefined {
    const vi = this.sh.vcpuInfoOffset(vcpu);
    if (vi < 0) return undefined;
    if (this.sh.longMode) return { idx: (vi + VI_PENDING_SEL_64) / 8, bit: port >> 6 };
    return { idx: (vi + VI_PENDING_SEL_32) / 4, bit: port >> 5 };
  }

  /** Atomic test-and-set; true when the bit was already set. */
  private testAndSet(r: BitRef): boolean {
    if (this.sh.longMode) {
      const m = 1n << BigInt(r.bit);
      return (Atomics.or(this.sh.views.u64, r.idx, m) & m) !== 0n;
    }
    const m = 1 << r.bit;
    return (Atomics.or(this.sh.views.i32, r.idx, m) & m) !== 0;
  }

  /** Atomic test-and-clear; true when the bit was set. */
  private testAndClear(r: BitRef): boolean {
    if (this.sh.longMode) {
      const m = 1n << BigInt(r.bit);
      return (Atomics.and(this.sh.views.u64, r.idx, ~m & 0xffffffffffffffffn) & m) !== 0n;
    }
    const m = 1 << r.bit;
    return (Atomics.and(this.sh.views.i32, r.idx, ~m) & m) !== 0;
  }

  private test(r: BitRef): boolean {
    if (this.sh.longMode) return (Atomics.load(this.sh.views.u64, r.idx) & (1n << BigInt(r.bit))) !== 0n;
    return (Atomics.load(this.sh.views.i32, r.idx) & (1 << r.bit)) !== 0;
  }

  /** Steps 3..4 of §3: selector bit, then upcall_pending. */
  private raiseSelector(port: number, vcpu: number): Outcome {
    const sel = this.selRef(vcpu, port);
    if (!sel) return EV_DROPPED;
    if (this.testAndSet(sel)) return 0;
    return this.sh.markUpcallPending(vcpu) ? EV_UPCALL : 0;
  }

  /**
   * §3 set_pending(port → vcpu): EV_NEW unless the pending bit was already set (coalesced,
   * stop); EV_MASKED if masked (stop); then selector and upcall_pending; EV_UPCALL when
   * upcall_pending went 0→1. EV_DROPPED without shared_info / vcpu_info or out of range.
   */
  setPending(port: number, vcpu: number): Outcome {
    const p = this.ref(port, false);
    const m = this.ref(port, true);
    if (!p || !m) return EV_DROPPED;
    if (this.testAndSet(p)) return 0;
    if (this.test(m)) return EV_NEW | EV_MASKED;
    return EV_NEW | this.raiseSelector(port, vcpu);
  }

  /**
   * §3 unmask: test_and_clear(mask); if it was masked and the port is pending, raise on
   * `vcpu` (the port's notify vCPU). Returns the outcome of the raise, or undefined when
   * nothing had to be raised.
   */
  unmask(port: number, vcpu: number): Outcome | undefined {
    const p = this.ref(port, false);
    const m = this.ref(port, true);
    if (!p || !m) return undefined;
    if (!this.testAndClear(m)) return undefined;
    if (!this.test(p)) return undefined;
    return this.raiseSelector(port, vcpu);
  }

  /**
   * QEMU's "pseudo-unmask" after bind_vcpu: leave the mask alone; if unmasked and pending,
   * re-raise the event on the (new) notify vCPU.
   */
  reraise(port: number, vcpu: number): Outcome | undefined {
    const p = this.ref(port, false);
    const m = this.ref(port, true);
    if (!p || !m || this.test(m) || !this.test(p)) return undefined;
    return this.raiseSelector(port, vcpu);
  }

  clearPending(port: number): void {
    const p = this.ref(port, false);
    if (p) this.testAndClear(p);
  }

  isPending(port: number): boolean {
    const p = this.ref(port, false);
    return p ? this.test(p) : false;
  }

  isMasked(port: number): boolean {
    const m = this.ref(port, true);
    return m ? this.test(m) : false;
  }

  /** Set a mask bit (the guest normally does this itself; used by tests and tools). */
  mask(port: number): void {
    const m = this.ref(port, true);
    if (m) this.testAndSet(m);
  }
}
