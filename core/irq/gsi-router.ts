// GsiRouter: the one owner of KVM's GSI routing table. KVM_SET_GSI_ROUTING replaces the
// whole table, so every change anywhere (irqchip pins, MSI vectors) goes through here.
//
// Flow: the irqchip hands in its fixed entries (kernel mode: the PC routes of GSIs 0..23;
// split mode: the MSI routes of our IOAPIC pins, re-sent whenever an RTE changes).
// Interrupt source groups allocate MSI GSIs in [24, 4096), set each GSI's message, and free
// it when done; freed GSIs are reused first. Changes mark the table dirty; outside a batch
// they are committed at once, inside batch(() => ...) once at the end of the outermost
// batch. afterCommit(cb) runs cb once the table holding the current changes is in KVM
// (irqfds must be assigned only after their route exists, or early signals are dropped).
// When the table is full (entry count, not only GSI numbers, is limited), allocate()
// returns null and counts the miss, so callers can fall back to KVM_SIGNAL_MSI; listeners
// registered with onRoutesFreed() hear when GSIs come back. fixedRoutes() and routes() are
// the read-only views (core/irq/routing-view.ts).
//
// Threading: single-threaded (the VM host thread). Not re-entrant from commit listeners
// except through batch()/afterCommit, which nest.
import * as K from '../kvm/constants.js';
import type { GsiRoute } from '../kvm/vm.js';
import { IrqError, IrqKvmError } from './errors.js';
import type { InterruptSourceId } from './interrupt-manager.js';
import type { MsiMessage } from './types.js';

/** The VM operations the router needs (a fake in unit tests). */
export interface RoutingVm {
  setGsiRouting(routes: GsiRoute[]): void;
}

export const FIRST_MSI_GSI = 24;

export interface GsiRouterOptions {
  /** Total routing entries KVM accepts (KVM_MAX_IRQ_ROUTES). Lower it to test exhaustion. */
  maxRoutes?: number;
  firstMsiGsi?: number;
}

export interface RouteCounters {
  gsi: number;
  owner: InterruptSourceId;
  msg: MsiMessage | null;
  /** Message changes committed for this GSI since allocation. */
  updates: number;
}

export interface RouterStats {
  /** Entries in the table KVM holds now. */
  entries: number;
  fixedEntries: number;
  msiRoutes: number;
  maxRoutes: number;
  peakMsiRoutes: number;
  commits: number;
  allocations: number;
  reuses: number;
  frees: number;
  /** allocate() calls that found no room. */
  exhausted: number;
}

interface MsiRoute extends RouteCounters {
  committedMsg: MsiMessage | null;
}

const sameMsg = (a: MsiMessage | null, b: MsiMessage | null): boolean =>
  a === b || (a !== null && b !== null && a.addressLo === b.addressLo && a.addressHi === b.addressHi && a.data === b.data);

export class GsiRouter {
  private readonly maxRoutes: number;
  private readonly firstMsiGsi: number;
  private fixed: GsiRoute[] = [];
  /** The fixed routes of the last successful commit (setFixedRoutes replaces, never mutates). */
  private committedFixed: readonly GsiRoute[] = [];
  private readonly msi = new Map<number, MsiRoute>();
  private readonly free: number[] = []; // freed GSIs, reused LIFO
  private nextGsi: number;
  private dirty = false;
  private depth = 0;
  private committing = false;
  private freedSinceCommit = false;
  private readonly pendingAfter: (() => void)[] = [];
  private readonly freedListeners = new Set<() => void>();
  private readonly counters = { commits: 0, allocations: 0, reuses: 0, frees: 0, exhausted: 0, peakMsiRoutes: 0, entries: 0 };

  constructor(
    private readonly vm: RoutingVm,
    opts: GsiRouterOptions = {},
  ) {
    this.maxRoutes = opts.maxRoutes ?? K.KVM_MAX_IRQ_ROUTES;
    this.firstMsiGsi = opts.firstMsiGsi ?? FIRST_MSI_GSI;
    this.nextGsi = this.firstMsiGsi;
  }

  /** Replace the irqchip's fixed entries (GSIs below the MSI range). */
  setFixedRoutes(routes: GsiRoute[]): void {
    const bad = routes.find((r) => r.gsi >= this.firstMsiGsi);
    if (bad) throw new IrqError(`fixed route on GSI ${bad.gsi} overlaps the MSI range`);
    if (routes.length + this.msi.size > this.maxRoutes) throw new IrqError('fixed routes do not fit the routing table');
    this.fixed = routes.slice();
    this.markDirty();
  }

  /** A free MSI GSI for `owner`, or null when the table is full. */
  allocate(owner: InterruptSourceId): number | null {
    const gsiLimit = K.KVM_MAX_IRQ_ROUTES; // every GSI number must be below it too
    if (this.fixed.length + this.msi.size >= this.maxRoutes) {
      this.counters.exhausted++;
      return null;
    }
    let gsi = this.free.pop();
    if (gsi !== undefined) this.counters.reuses++;
    else if (this.nextGsi < gsiLimit) gsi = this.nextGsi++;
    else {
      this.counters.exhausted++;
      return null;
    }
    this.counters.allocations++;
    this.msi.set(gsi, { gsi, owner, msg: null, committedMsg: null, updates: 0 });
    this.counters.peakMsiRoutes = Math.max(this.counters.peakMsiRoutes, this.msi.size);
    return gsi;
  }

  /** Point `gsi` at `msg`. A route without a message is not in the table. */
  setMsiRoute(gsi: number, msg: MsiMessage): void {
    const r = this.route(gsi);
    if (sameMsg(r.msg, msg)) return;
    r.msg = { addressLo: msg.addressLo >>> 0, addressHi: msg.addressHi >>> 0, data: msg.data >>> 0 };
    this.markDirty();
  }

  release(gsi: number): void {
    const r = this.route(gsi);
    this.msi.delete(gsi);
    this.free.push(gsi);
    this.counters.frees++;
    this.freedSinceCommit = true;
    if (r.committedMsg) this.markDirty();
    else this.runAfterCommitIfIdle();
  }

  /** Collect route changes made by fn and commit them once. */
  batch<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      if (--this.depth === 0) this.flush();
    }
  }

  /** Run cb once the current changes are in KVM (at once if nothing is outstanding). */
  afterCommit(cb: () => void): void {
    this.pendingAfter.push(cb);
    if (this.depth === 0 && !this.committing) this.flush();
  }

  /** Called after a commit that freed GSIs, so fallback users can retry. */
  onRoutesFreed(listener: () => void): () => void {
    this.freedListeners.add(listener);
    return () => this.freedListeners.delete(listener);
  }

  /** Commit now (also inside a batch). */
  commit(): void {
    const table: GsiRoute[] = this.fixed.slice();
    for (const r of this.msi.values()) if (r.msg) table.push({ gsi: r.gsi, type: 'msi', msg: r.msg });
    try {
      this.vm.setGsiRouting(table);
    } catch (cause) {
      throw new IrqKvmError(`KVM_SET_GSI_ROUTING with ${table.length} entries failed`, { cause });
    }
    for (const r of this.msi.values()) {
      if (!sameMsg(r.msg, r.committedMsg)) r.updates++;
      r.committedMsg = r.msg;
    }
    this.committedFixed = this.fixed;
    this.dirty = false;
    this.counters.commits++;
    this.counters.entries = table.length;
  }

  /**
   * The irqchip's fixed routes in the table KVM holds (the last commit): kernel irqchip the
   * PC wiring to the PICs and IOAPIC, split irqchip one MSI route per live IOAPIC pin. A copy.
   */
  fixedRoutes(): readonly GsiRoute[] {
    return this.committedFixed.map((r) => (r.type === 'msi' ? { ...r, msg: { ...r.msg } } : { ...r }));
  }

  routes(): RouteCounters[] {
    return [...this.msi.values()].map(({ gsi, owner, msg, updates }) => ({ gsi, owner, msg, updates }));
  }

  stats(): RouterStats {
    const c = this.counters;
    return {
      entries: c.entries, fixedEntries: this.fixed.length, msiRoutes: this.msi.size, maxRoutes: this.maxRoutes,
      peakMsiRoutes: c.peakMsiRoutes, commits: c.commits, allocations: c.allocations, reuses: c.reuses,
      frees: c.frees, exhausted: c.exhausted,
    };
  }

  private route(gsi: number): MsiRoute {
    const r = this.msi.get(gsi);
    if (!r) throw new IrqError(`GSI ${gsi} is not allocated`);
    return r;
  }

  private markDirty(): void {
    this.dirty = true;
    this.runAfterCommitIfIdle();
  }

  private runAfterCommitIfIdle(): void {
    if (this.depth === 0 && !this.committing) this.flush();
  }

  /** End of the outermost batch: commit, run afterCommit callbacks, tell freed listeners. */
  private flush(): void {
    this.committing = true;
    try {
      // Callbacks may change routes again; loop until everything is committed and run.
      while (this.dirty || this.pendingAfter.length > 0) {
        if (this.dirty) this.commit();
        const after = this.pendingAfter.splice(0);
        for (const cb of after) cb();
      }
    } finally {
      this.committing = false;
    }
    if (this.freedSinceCommit) {
      this.freedSinceCommit = false;
      if (this.freedListeners.size > 0) this.batch(() => {
        for (const l of [...this.freedListeners]) l();
      });
    }
  }
}
