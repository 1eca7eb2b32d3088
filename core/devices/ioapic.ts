// Userspace IOAPIC for the split irqchip (KVM_CAP_SPLIT_IRQCHIP): 24 pins, version 0x20
// (with the EOI register), MMIO at 0xFEC00000. Device lines enter through setIrq(); a
// delivery becomes `delivery.assert(pin)`, which the machine turns into a KVM MSI GSI route
// kept equal to the pin's RTE through `delivery.updateRoute()`. KVM reports EOIs of
// level-triggered vectors (routes among the reserved IOAPIC GSIs) as KVM_EXIT_IOAPIC_EOI,
// which the machine passes to eoi(vector); the EOI register at 0x40 does the same.
//
// Interrupt semantics follow Linux arch/x86/kvm/ioapic.c so a lab guest behaves the same
// on KVM's in-kernel IOAPIC and here:
// - edge pins: an assertion while the line is already high is coalesced; an edge that
//   arrives while masked is dropped, not latched, and unmasking does not deliver it
//   (ioapic_service() returns early on mask; the RTE write path only re-services level
//   pins);
// - level pins: delivery sets Remote IRR; further assertions are coalesced until an EOI
//   clears it, and the EOI re-delivers at once if the line is still high and unmasked
//   (after 10000 back-to-back re-deliveries the next one is delayed by 10 ms, KVM's
//   interrupt-storm guard); unmasking a level pin whose line is high and Remote IRR clear
//   delivers it;
// - writing an RTE keeps Remote IRR/Delivery Status (read-only) but clears Remote IRR
//   when the entry is edge-triggered (Linux and Xen rely on this as a pseudo-EOI);
// - unknown indirect registers read 0xffffffff; ID/ARB read the 4-bit ID in bits 27:24.
// Deviations: polarity is not applied to inputs (neither does KVM: callers pass the
// asserted state); EOIs only touch level-triggered entries (KVM asserts this holds);
// reserved RTE bits are stored as written like KVM, unless reservedBits is 'zero'.
import type { IoDevice } from '../bus/types.js';
import type { MsiMessage } from '../irq/types.js';
import * as Rte from './ioapic-rte.js';
import { describeIoapic, snapshotIoapic, type IoapicSnapshot, type IoapicView } from './ioapic-view.js';
import { isValidAccessSize, toU32 } from './isa-access.js';
import type { Clock, Scheduler, TimerHandle } from './time.js';

export type { IoapicPinSnapshot, IoapicSnapshot } from './ioapic-view.js';

export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x20;
export const IOAPIC_MMIO_SIZE = 0x1000;
// Direct registers (82093AA datasheet 3.1; EOI register of version 0x20 IOAPICs).
const MMIO_REGSEL = 0x00;
const MMIO_WINDOW = 0x10;
const MMIO_EOI = 0x40;
const MMIO_DECODE_MASK = 0xff; // the registers repeat every 256 bytes of the page
// Indirect registers (datasheet 3.2).
const REG_ID = 0x00;
const REG_VERSION = 0x01;
const REG_ARB = 0x02;
const REG_REDTBL_BASE = 0x10;
const ID_SHIFT = 24;
const ID_MASK = 0x0f;
const VERSION_MAX_REDIR_SHIFT = 16;
const UNDEFINED_REGISTER = 0xffffffff;
/** KVM IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT and the HZ/100 delay it then applies. */
const SUCCESSIVE_IRQ_MAX_COUNT = 10000;
const STORM_DELAY_NS = 10_000_000n;

export interface IoapicDelivery {
  /** Install (or, with null, drop) the MSI route of the pin's GSI; `level` = trigger mode. */
  updateRoute(pin: number, msg: MsiMessage | null, level: boolean): void;
  /** Trigger the pin's GSI route (delivers the MSI last installed for it). */
  assert(pin: number): void;
}

export interface IoapicOptions {
  name?: string;
  /** Clock + scheduler for the interrupt-storm delay; without them it re-delivers at once. */
  clock?: Clock;
  scheduler?: Scheduler;
  /** 'kvm' (default): reserved RTE bits read back as written. 'zero': they read 0. */
  reservedBits?: 'kvm' | 'zero';
}

export interface IoapicPinStats {
  assertions: number; // line rising edges
  deliveries: number;
  coalesced: number; // assertions that found the interrupt still pending
  maskedWhileAsserted: number; // assertions dropped (edge) or held (level) by the mask
  eois: number; // EOIs that cleared this pin's Remote IRR
}

export interface IoapicStats {
  mmioReads: number;
  mmioWrites: number;
  eoiCalls: number; // eoi() from KVM_EXIT_IOAPIC_EOI
  eoiRegisterWrites: number;
  unmatchedEois: number;
  stormDelays: number;
  routeUpdates: number;
  ignoredWrites: number;
  badPins: number;
  badAccesses: number;
}

export interface IoapicState {
  id: number;
  ioregsel: number;
  /** Asserted lines, minus edges already delivered (as KVM_GET_IRQCHIP reports it). */
  irr: number;
  redirtbl: [lo: number, hi: number][];
}

export class Ioapic implements IoDevice {
  readonly name: string;
  readonly stats: IoapicStats = {
    mmioReads: 0, mmioWrites: 0, eoiCalls: 0, eoiRegisterWrites: 0, unmatchedEois: 0, stormDelays: 0,
    routeUpdates: 0, ignoredWrites: 0, badPins: 0, badAccesses: 0,
  };
  readonly pinStats: IoapicPinStats[] = Array.from({ length: IOAPIC_PINS }, () => ({
    assertions: 0, deliveries: 0, coalesced: 0, maskedWhileAsserted: 0, eois: 0,
  }));

  private readonly delivery: IoapicDelivery;
  private readonly clock: Clock | undefined;
  private readonly scheduler: Scheduler | undefined;
  private readonly loMask: number;
  private readonly hiMask: number;
  private id = 0;
  private ioregsel = 0;
  private irr = 0; // line state: bit set while asserted
  private irrDelivered = 0; // edge pins whose current assertion was delivered
  private readonly lo = new Array<number>(IOAPIC_PINS).fill(Rte.RTE_MASKED);
  private readonly hi = new Array<number>(IOAPIC_PINS).fill(0);
  private readonly successiveEois = new Array<number>(IOAPIC_PINS).fill(0);
  private readonly routes: (MsiMessage | null)[] = new Array(IOAPIC_PINS).fill(null);
  private stormTimer: TimerHandle | null = null;

  constructor(delivery: IoapicDelivery, options: IoapicOptions = {}) {
    this.name = options.name ?? 'ioapic';
    this.delivery = delivery;
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    const zero = options.reservedBits === 'zero';
    this.loMask = zero ? Rte.RTE_LO_DEFINED : 0xffffffff;
    this.hiMask = zero ? Rte.RTE_HI_DEFINED : 0xffffffff;
  }

  /** Machine reset: every entry masked and cleared, like QEMU's IOAPIC reset. */
  reset(): void {
    this.stormTimer?.cancel();
    this.stormTimer = null;
    this.id = 0;
    this.ioregsel = 0;
    this.irr = 0;
    this.irrDelivered = 0;
    this.lo.fill(Rte.RTE_MASKED);
    this.hi.fill(0);
    this.successiveEois.fill(0);
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      if (this.routes[pin] !== null) this.setRoute(pin, null, false);
    }
  }

  // ---- interrupt inputs and EOI ---------------------------------------------------------------

  /** Drive input `pin` to `level` (the asserted state; polarity is the wiring's business). */
  setIrq(pin: number, level: boolean): void {
    if (!isPin(pin)) {
      this.stats.badPins++;
      return;
    }
    const bit = 1 << pin;
    if (!level) {
      this.irr &= ~bit;
      return;
    }
    const wasHigh = (this.irr & bit) !== 0;
    this.irr |= bit;
    if (!wasHigh) this.pinStats[pin]!.assertions++;
    if (!Rte.rteIsLevel(this.lo[pin]!)) {
      this.irrDelivered &= ~bit;
      if (wasHigh) {
        this.pinStats[pin]!.coalesced++; // no new edge
        return;
      }
    }
    this.service(pin, true);
  }

  /** EOI for `vector`, from KVM_EXIT_IOAPIC_EOI (level-triggered vectors only). */
  eoi(vector: number): void {
    this.stats.eoiCalls++;
    this.broadcastEoi(vector);
  }

  private broadcastEoi(vector: number): void {
    const v = toU32(vector) & Rte.RTE_VECTOR_MASK;
    let matched = false;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = this.lo[pin]!;
      if (Rte.rteVector(lo) !== v || !Rte.rteIsLevel(lo)) continue;
      matched = true;
      if (lo & Rte.RTE_REMOTE_IRR) this.pinStats[pin]!.eois++;
      this.lo[pin] = lo & ~Rte.RTE_REMOTE_IRR;
      if (!Rte.rteIsMasked(lo) && this.irr & (1 << pin)) {
        if (++this.successiveEois[pin]! >= SUCCESSIVE_IRQ_MAX_COUNT && this.scheduler && this.clock) {
          // A line that stays asserted across EOIs is an interrupt storm; like KVM (and
          // real hardware) let the guest make progress by delaying the re-delivery.
          this.successiveEois[pin] = 0;
          this.stats.stormDelays++;
          this.stormTimer ??= this.scheduler.schedule(this.clock() + STORM_DELAY_NS, () => this.stormInject());
        } else {
          if (this.successiveEois[pin]! >= SUCCESSIVE_IRQ_MAX_COUNT) this.successiveEois[pin] = 0;
          this.service(pin, false);
        }
      } else {
        this.successiveEois[pin] = 0;
      }
    }
    if (!matched) this.stats.unmatchedEois++;
  }

  /** KVM kvm_ioapic_eoi_inject_work: re-service every pending, unblocked level pin. */
  private stormInject(): void {
    this.stormTimer = null;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = this.lo[pin]!;
      if (Rte.rteIsLevel(lo) && this.irr & (1 << pin) && !(lo & Rte.RTE_REMOTE_IRR)) this.service(pin, false);
    }
  }

  /** KVM ioapic_service(): deliver unless masked or a level interrupt awaits its EOI. */
  private service(pin: number, fromAssertion: boolean): void {
    const lo = this.lo[pin]!;
    const level = Rte.rteIsLevel(lo);
    const stats = this.pinStats[pin]!;
    if (Rte.rteIsMasked(lo)) {
      if (fromAssertion) stats.maskedWhileAsserted++;
      return;
    }
    if (level && lo & Rte.RTE_REMOTE_IRR) {
      if (fromAssertion) stats.coalesced++;
      return;
    }
    if (level) this.lo[pin] = lo | Rte.RTE_REMOTE_IRR;
    else this.irrDelivered |= 1 << pin;
    stats.deliveries++;
    this.delivery.assert(pin);
  }

  // ---- MMIO -----------------------------------------------------------------------------------

  read(offset: number, size: number): number {
    this.stats.mmioReads++;
    if (!Number.isInteger(offset) || !isValidAccessSize(size)) {
      this.stats.badAccesses++;
      return 0;
    }
    // Like KVM, only exact register offsets decode; anything else reads 0 (EOI included).
    let result = 0;
    const reg = offset & MMIO_DECODE_MASK;
    if (reg === MMIO_REGSEL) result = this.ioregsel;
    else if (reg === MMIO_WINDOW) result = this.readIndirect();
    if (size === 1) return result & 0xff;
    if (size === 2) return result & 0xffff;
    return result >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    this.stats.mmioWrites++;
    if (!Number.isInteger(offset) || !isValidAccessSize(size)) {
      this.stats.badAccesses++;
      return;
    }
    const v = toU32(value);
    const data = size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v;
    switch (offset & MMIO_DECODE_MASK) {
      case MMIO_REGSEL:
        this.ioregsel = data & 0xff; // 8-bit register
        return;
      case MMIO_WINDOW:
        this.writeIndirect(data);
        return;
      case MMIO_EOI:
        this.stats.eoiRegisterWrites++;
        this.broadcastEoi(data);
        return;
      default:
        this.stats.ignoredWrites++;
    }
  }

  private readIndirect(): number {
    const sel = this.ioregsel;
    if (sel === REG_VERSION) return (((IOAPIC_PINS - 1) << VERSION_MAX_REDIR_SHIFT) | IOAPIC_VERSION) >>> 0;
    if (sel === REG_ID || sel === REG_ARB) return (this.id << ID_SHIFT) >>> 0;
    const pin = (sel - REG_REDTBL_BASE) >> 1;
    if (sel < REG_REDTBL_BASE || pin >= IOAPIC_PINS) return UNDEFINED_REGISTER;
    return (sel & 1 ? this.hi[pin]! : this.lo[pin]!) >>> 0;
  }

  private writeIndirect(value: number): void {
    const sel = this.ioregsel;
    if (sel === REG_ID) {
      this.id = (value >>> ID_SHIFT) & ID_MASK;
      return;
    }
    const pin = (sel - REG_REDTBL_BASE) >> 1;
    if (sel < REG_REDTBL_BASE || pin >= IOAPIC_PINS) {
      this.stats.ignoredWrites++; // VER, ARB and undefined registers are read-only
      return;
    }
    if (sel & 1) {
      this.hi[pin] = (value & this.hiMask) >>> 0;
    } else {
      const old = this.lo[pin]!;
      let lo = ((value & this.loMask & ~Rte.RTE_LO_READ_ONLY) | (old & Rte.RTE_LO_READ_ONLY)) >>> 0;
      // Edge mode clears Remote IRR: OSes use a level->edge->level flip as an EOI.
      if (!Rte.rteIsLevel(lo)) lo &= ~Rte.RTE_REMOTE_IRR;
      this.lo[pin] = lo >>> 0;
    }
    this.syncRoute(pin);
    const lo = this.lo[pin]!;
    if (Rte.rteIsLevel(lo) && this.irr & (1 << pin) && !Rte.rteIsMasked(lo) && !(lo & Rte.RTE_REMOTE_IRR)) {
      this.service(pin, false); // unmasked (or re-armed) while the line is still asserted
    }
  }

  // ---- routes -----------------------------------------------------------------------------------

  /** Keep the pin's KVM route equal to its RTE. Masked entries keep their last route (as
   *  QEMU does) so EOIs of an in-service level vector still reach us while it is masked. */
  private syncRoute(pin: number, force = false): void {
    const lo = this.lo[pin]!;
    if (Rte.rteIsMasked(lo)) return;
    const msg = Rte.msiFromRte({ lo, hi: this.hi[pin]! });
    if (force || !Rte.sameMsi(msg, this.routes[pin]!)) this.setRoute(pin, msg, Rte.rteIsLevel(lo));
  }

  private setRoute(pin: number, msg: MsiMessage | null, level: boolean): void {
    this.routes[pin] = msg;
    this.stats.routeUpdates++;
    this.delivery.updateRoute(pin, msg, level);
  }

  // ---- save/restore and views ---------------------------------------------------------------------

  state(): IoapicState {
    return {
      id: this.id,
      ioregsel: this.ioregsel,
      irr: (this.irr & ~this.irrDelivered) >>> 0,
      redirtbl: this.lo.map((lo, pin) => [lo >>> 0, this.hi[pin]! >>> 0]),
    };
  }

  /** Load a saved state, re-install routes, then re-inject pending lines (kvm_set_ioapic). */
  restore(state: IoapicState): void {
    this.stormTimer?.cancel();
    this.stormTimer = null;
    this.id = toU32(state.id) & ID_MASK;
    this.ioregsel = toU32(state.ioregsel) & 0xff;
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const [lo = Rte.RTE_MASKED, hi = 0] = state.redirtbl?.[pin] ?? [];
      this.lo[pin] = (toU32(lo) & this.loMask) >>> 0;
      this.hi[pin] = (toU32(hi) & this.hiMask) >>> 0;
      if (!Rte.rteIsMasked(this.lo[pin]!)) this.syncRoute(pin, true);
    }
    this.irr = 0;
    this.irrDelivered = 0;
    this.successiveEois.fill(0);
    const pending = toU32(state.irr);
    for (let pin = 0; pin < IOAPIC_PINS; pin++) if (pending & (1 << pin)) this.setIrq(pin, true);
  }

  /** Per-pin configuration and counters for the statistics view. */
  snapshot(): IoapicSnapshot {
    return snapshotIoapic(this.view(), this.pinStats, this.stats);
  }

  /** Human-readable table like QEMU's `info pic` for its IOAPIC, plus IRR/remote IRR. */
  describe(): string {
    return describeIoapic(this.view());
  }

  private view(): IoapicView {
    return { name: this.name, version: IOAPIC_VERSION, id: this.id, ioregsel: this.ioregsel, irr: this.irr, lo: this.lo, hi: this.hi };
  }
}

function isPin(pin: number): boolean {
  return Number.isInteger(pin) && pin >= 0 && pin < IOAPIC_PINS;
}
