// The GSI hook: emulated GSIs that the guest mapped to PIRQs (PHYSDEVOP_map_pirq,
// MAP_PIRQ_TYPE_GSI) are taken BEFORE the IOAPIC and raise the PIRQ's event-channel port
// instead (Xen: hvm_set_pci_intx_level / send_guest_pirq; QEMU: xen_evtchn_set_gsi called
// from gsi_handler() in hw/i386/x86.c).
//
// Data flow:
//   device → IrqLine.set(level) → wrap(gsi, inner) → setGsi(gsi, level)
//     not mapped (or the callback GSI) → false → inner.set(level) → PIC/IOAPIC as before
//     mapped, high → remember level, raisePirq(pirq) → true (eaten)
//     mapped, low  → remember level → true (eaten)
//   PHYSDEVOP_eoi(pirq) → eoi(pirq): resample listeners (xen-intx.ts: a device process's
//     line is deasserted and told to re-signal), then reassert(pirq): still high →
//     raisePirq again (level semantics)
//   EVTCHNOP_bind_pirq → reassert(pirq): an already-asserted GSI is not lost
//   map/unmap of an asserted GSI → handoff(): the IOAPIC input is lowered on map (it would
//     otherwise stay high forever: the hook eats the deassertion) and raised again on unmap.
// With KVM's in-kernel irqchip one KVM GSI feeds both PIC and IOAPIC, so an eaten ISA GSI
// reaches neither; that matches Xen, where the PIRQ path replaces the IOAPIC for that GSI.
//
// Locking / why this cannot deadlock (cf. QEMU's first PIRQ series, Woodhouse "[RFC PATCH
// 0/5] Xen PIRQ support", qemu-devel 2023-01-14): there, gsi_handler took the evtchn
// port_lock to look up the PIRQ, and the evtchn code raises the *callback* GSI while holding
// that same lock, so the hook re-entered port_lock. Here:
//   1. The hook holds no lock at all. It runs on the host thread; its state (PirqTable) is
//      host-thread only and is updated before it calls out.
//   2. The callback GSI is checked first and passed straight through (returns false) without
//      touching any PIRQ state, and map_pirq refuses to map it (physdev.ts). So if raising
//      an event asserts the callback line and that line comes back through this hook, the
//      nested call returns at once.
//   3. raisePirq (event-channel fast path) takes at most a FIFO queue lock and releases it
//      before injecting the upcall or returning; it never calls into this layer.
// So there is no lock to re-enter and no lock held across a call out of this module.
import type { IrqLine } from '../../irq/types.js';
import { noEvents, raiseCounted, type PirqEvents } from './events.js';
import { NR_IRQS_GSI, type PirqTable } from './pirq-table.js';

export interface GsiHookOptions {
  table: PirqTable;
  /** The event channels (late-bound: they are built after the PIRQ layer). */
  events?: () => PirqEvents;
  /** The GSI currently used for the event-channel callback (HVM_PARAM_CALLBACK_IRQ), or -1. */
  callbackGsi?: () => number;
}

export interface GsiHookStats {
  /** Level changes taken from the IOAPIC and handled as PIRQs. */
  eaten: number;
  /** Assertions (and re-assertions) whose event reached a port. */
  raised: number;
  /** Assertions of a mapped GSI with no port bound. */
  dropped: number;
  /** Level changes of the callback GSI passed through untouched. */
  callbackPassThrough: number;
  /** Lines lowered / re-raised at the IOAPIC when an asserted GSI was mapped / unmapped. */
  handoffs: number;
}

export class GsiHook {
  private readonly table: PirqTable;
  private readonly events: () => PirqEvents;
  private readonly callbackGsi: () => number;
  private readonly inner: IrqLine[][] = Array.from({ length: NR_IRQS_GSI }, () => []);
  private readonly eoiListeners = new Map<number, Set<() => void>>();
  readonly stats: GsiHookStats = { eaten: 0, raised: 0, dropped: 0, callbackPassThrough: 0, handoffs: 0 };

  constructor(o: GsiHookOptions) {
    this.table = o.table;
    this.events = o.events ?? (() => noEvents);
    this.callbackGsi = o.callbackGsi ?? (() => -1);
  }

  /**
   * The machine calls this when GSI `gsi` changes level, before the IOAPIC. True: the GSI
   * is mapped to a PIRQ and was handled here (do not pass it on). False: pass it on.
   */
  setGsi(gsi: number, level: boolean): boolean {
    if (!(Number.isInteger(gsi) && gsi >= 0 && gsi < NR_IRQS_GSI)) return false;
    if (gsi === this.callbackGsi()) {
      this.stats.callbackPassThrough++;
      return false;
    }
    this.table.setGsiLevel(gsi, level);
    const pirq = this.table.gsiPirq(gsi);
    if (pirq < 0) return false;
    this.stats.eaten++;
    if (level) this.raise(pirq);
    return true;
  }

  /**
   * Put the hook in front of `inner`, the line that reaches PIC/IOAPIC for `gsi` (the
   * IOAPIC pin, i.e. isaToIoapicPin(irq) for ISA lines). The returned line is what devices
   * get. `inner` is also used for the map/unmap handoff.
   */
  wrap(gsi: number, inner: IrqLine): IrqLine {
    if (!(Number.isInteger(gsi) && gsi >= 0 && gsi < NR_IRQS_GSI)) return inner;
    this.inner[gsi]!.push(inner);
    return {
      set: (level: boolean) => {
        if (!this.setGsi(gsi, level)) inner.set(level);
      },
    };
  }

  /**
   * Listen for PHYSDEVOP_eoi on `gsi` (Xen-aware INTx groups: the guest's EOI of a PIRQ is
   * the resample of a device process's line). Returns the remover.
   */
  onEoi(gsi: number, cb: () => void): () => void {
    const set = this.eoiListeners.get(gsi) ?? new Set<() => void>();
    this.eoiListeners.set(gsi, set);
    set.add(cb);
    return () => void set.delete(cb);
  }

  /** PHYSDEVOP_eoi: resample listeners first (they may lower the level), then reassert. */
  eoi(pirq: number): void {
    const gsi = this.table.gsiOf(pirq);
    for (const cb of this.eoiListeners.get(gsi) ?? []) cb();
    this.reassert(pirq);
  }

  /** PHYSDEVOP_eoi / bind_pirq: raise `pirq` again if its GSI is still asserted. */
  reassert(pirq: number): boolean {
    const gsi = this.table.gsiOf(pirq);
    if (gsi < 0 || !this.table.gsiLevel(gsi)) return false;
    this.raise(pirq);
    return true;
  }

  /**
   * `gsi` was just mapped (true) or unmapped (false). If it is asserted, move the level
   * between the IOAPIC input and the PIRQ path so neither side is left stuck high.
   */
  handoff(gsi: number, mapped: boolean): void {
    if (!this.table.gsiLevel(gsi) || gsi === this.callbackGsi()) return;
    const lines = this.inner[gsi] ?? [];
    if (lines.length > 0) this.stats.handoffs++;
    for (const l of lines) l.set(!mapped);
  }

  private raise(pirq: number): void {
    if (raiseCounted(this.table, this.events(), pirq)) this.stats.raised++;
    else this.stats.dropped++;
  }
}
