// The PIRQ layer of a Xen HVM domain, assembled: the table (pirq-table.ts), PHYSDEVOP_*
// (physdev.ts), the GSI hook (gsi-hook.ts), MSI → PIRQ (msi-pirq.ts), the PirqBinder the
// event channels call on EVTCHNOP_bind_pirq / close, statistics and save/restore.
//
// Construction order (the event channels need the binder, the PIRQ layer needs their
// raisePirq and port lookup):
//   const pirq = new PirqLayer({ nrPirqs, ownDomid, callbackGsi });
//   const ec = new EventChannels({ ..., nrPirqs: pirq.nrPirqs, pirq: pirq.binder });
//   pirq.attachEvents(eventsOf(ec));
//
// Binder semantics (EVTCHNOP_bind_pirq runs bindPirq in evtchn/ops.ts, which publishes the
// port and the PIRQ → port map BEFORE calling bind, so a raise from inside bind lands):
//   - GSI PIRQ: if the GSI is asserted now, raise the new port (the assertion was eaten by
//     the hook while nothing was bound, so it would otherwise be lost until the next edge).
//   - MSI PIRQ (allocated or MSI-emu): rescan and unmask the snooped vector on the guest's
//     behalf (msi-pirq.ts bindMsi); anything pending in the PBA is then sent and lands.
//   - Any PIRQ < nr_pirqs may be bound, mapped or not (Xen and QEMU allow it): always 0.
//   - unbind (close/reset): nothing to undo — the port table already forgot the binding,
//     and PIRQ-form vectors never sit on KVM routes that would need recomputing.
//
// Locking: see gsi-hook.ts — host thread only, no locks, nothing held across calls out.
//
// Save/restore: state() = PirqTable.state() (primary data only). The PIRQ → port binding is
// restored by the event channels from their PIRQ port rows (EventChannels.restore); the
// GSI → PIRQ map, MSI provenance and GSI levels are rebuilt by restore() here. Restore the
// event channels first, then this (either order works: nothing here reads the ports).
import type { PirqBinder } from '../evtchn/types.js';
import { noEvents, type PirqEvents } from './events.js';
import { GsiHook, type GsiHookStats } from './gsi-hook.js';
import { MsiPirq, type MsiPirqStats } from './msi-pirq.js';
import { PhysdevOps, type PhysdevStats } from './physdev.js';
import { DEFAULT_NR_PIRQS, NR_IRQS_GSI, PirqTable, type PirqInfo, type PirqTableState } from './pirq-table.js';

export interface PirqLayerOptions {
  /** nr_pirqs; default 256 (QEMU). Give the same value to EventChannels. */
  nrPirqs?: number;
  /** This guest's domid; default 0 (as EventChannels). */
  ownDomid?: number;
  /** The event-channel callback GSI (HVM_PARAM_CALLBACK_IRQ, GSI or INTx form), or -1. */
  callbackGsi?: () => number;
}

/** One PIRQ for the stats stream. */
export interface PirqStatsRow {
  pirq: number;
  kind: 'unbound' | 'gsi' | 'msi-emu';
  /** "gsi 10", "<device> msix 3", "<device> msi 0", "msi" (no vector snooped) or "unbound". */
  source: string;
  port: number;
  /** Events that reached the port. */
  count: number;
  /** Events with no port bound. */
  dropped: number;
  level?: boolean;
  masked?: boolean;
}

export interface PirqSnapshot {
  pirqs: PirqStatsRow[];
  gsi: GsiHookStats;
  msi: MsiPirqStats;
  physdev: PhysdevStats;
  bindErrors: number;
}

export class PirqLayer {
  readonly table: PirqTable;
  readonly gsi: GsiHook;
  readonly msi: MsiPirq;
  readonly physdev: PhysdevOps;
  readonly binder: PirqBinder;
  private events: PirqEvents = noEvents;
  private bindErrors = 0;

  constructor(o: PirqLayerOptions = {}) {
    this.table = new PirqTable(o.nrPirqs ?? DEFAULT_NR_PIRQS);
    const events = () => this.events;
    this.gsi = new GsiHook({ table: this.table, events, callbackGsi: o.callbackGsi });
    this.msi = new MsiPirq(this.table, events);
    this.physdev = new PhysdevOps({ table: this.table, gsi: this.gsi, ownDomid: o.ownDomid, callbackGsi: o.callbackGsi });
    this.binder = {
      bind: (pirq, port, flags) => this.bind(pirq, port, flags),
      unbind: () => {},
    };
  }

  get nrPirqs(): number {
    return this.table.nrPirqs;
  }

  /** Connect the event channels (eventsOf(ec)); until then raises are dropped. */
  attachEvents(events: PirqEvents): void {
    this.events = events;
    this.table.setPortLookup((p) => events.pirqPort(p));
  }

  /** HYPERVISOR_physdev_op(cmd, arg) for the hypercall dispatcher. Never throws. */
  physdevOp(cmd: number, arg: bigint | number, args: Parameters<PhysdevOps['physdevOp']>[2], longMode = true): number {
    return this.physdev.physdevOp(cmd, arg, args, longMode);
  }

  private bind(pirq: number, _port: number, _flags: number): number {
    try {
      if (this.table.kind(pirq) === 'gsi') this.gsi.reassert(pirq);
      else this.msi.bindMsi(pirq);
    } catch {
      this.bindErrors++; // the binding itself stands; only the side effect failed
    }
    return 0;
  }

  snapshot(): PirqSnapshot {
    return {
      pirqs: this.table.list().map(row),
      gsi: { ...this.gsi.stats },
      msi: { ...this.msi.stats },
      physdev: this.physdev.stats(),
      bindErrors: this.bindErrors,
    };
  }

  state(): PirqTableState {
    return this.table.state();
  }

  /**
   * Rebuild from saved state (host thread, vCPUs paused; see the header). Throws VmmError on
   * bad data, before changing anything. Derived state is recomputed: the GSI → PIRQ map
   * (table), MSI provenance against the devices' current tables (msi.resync), and the
   * IOAPIC inputs of asserted GSIs whose mapping differs from before (handoff), so no line
   * is left stuck high on either side. Nothing is raised: pending bits live in guest RAM.
   */
  restore(s: PirqTableState): void {
    const before = Array.from({ length: NR_IRQS_GSI }, (_, g) => this.table.gsiPirq(g) >= 0);
    this.table.restore(s);
    this.msi.resync();
    for (let g = 0; g < NR_IRQS_GSI; g++) {
      const mapped = this.table.gsiPirq(g) >= 0;
      if (mapped !== before[g]) this.gsi.handoff(g, mapped);
    }
  }
}

function row(i: PirqInfo): PirqStatsRow {
  let source: string;
  if (i.kind === 'gsi') source = `gsi ${i.gsi}`;
  else if (i.kind === 'msi-emu') source = i.msi ? `${i.msi.device} ${i.msi.isMsix ? 'msix' : 'msi'} ${i.msi.vector}` : 'msi';
  else source = 'unbound';
  const r: PirqStatsRow = { pirq: i.pirq, kind: i.kind, source, port: i.port, count: i.count, dropped: i.dropped };
  if (i.level !== undefined) r.level = i.level;
  if (i.msi) r.masked = i.msi.masked;
  return r;
}
