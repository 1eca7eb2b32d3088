// KVM implementation of InterruptManager: builds the GSI router over the VM (taking over
// the irqchip's routes), the fd watcher and eventfd helpers, and hands out MSI groups
// (kvm-msi-group.ts) and INTx groups (kvm-intx.ts on the in-kernel irqchip, split-intx.ts
// through our IOAPIC on the split irqchip). It keeps every group for stats().
//
// Threading: VM host thread only (the fd watcher dispatches on the thread that created it).
import type { GsiRoute } from '../kvm/vm.js';
import type { MsiMessage } from './types.js';
import { nativeEventFds, type EventFdOps } from './eventfd.js';
import { fdWatcher, type FdWatcher } from './fd-watcher.js';
import { GsiRouter, type GsiRouterOptions, type RouterStats } from './gsi-router.js';
import type {
  InterruptManager, InterruptSourceGroup, InterruptSourceStats, IntxGroupConfig, IntxInterruptGroup, MsiGroupConfig,
  MsiInterruptGroup,
} from './interrupt-manager.js';
import { KvmIntxGroup } from './kvm-intx.js';
import { KvmMsiGroup, type IrqVm } from './kvm-msi-group.js';
import { IoapicLineMux, SplitIntxGroup, type SplitIrqchipHooks } from './split-intx.js';

export interface KvmInterruptManagerOptions extends GsiRouterOptions {
  vm: IrqVm & { setGsiRouting(routes: GsiRoute[]): void };
  /** The machine's irqchip; a split one (with an IOAPIC) routes INTx through userspace. */
  irqchip: { attachRouter(r: GsiRouter): void } & Partial<SplitIrqchipHooks>;
  watcher?: FdWatcher;
  eventfds?: EventFdOps;
  /** See KvmIrqContext.userspaceMsi (Xen PIRQ-form messages). */
  userspaceMsi?: (msg: MsiMessage) => boolean;
}

export class KvmInterruptManager implements InterruptManager {
  readonly router: GsiRouter;
  private readonly watcher: FdWatcher;
  private readonly eventfds: EventFdOps;
  private readonly mux: IoapicLineMux | null;
  private readonly groups = new Set<InterruptSourceGroup>();

  constructor(private readonly opts: KvmInterruptManagerOptions) {
    this.router = new GsiRouter(opts.vm, opts);
    this.watcher = opts.watcher ?? fdWatcher();
    this.eventfds = opts.eventfds ?? nativeEventFds();
    const chip = opts.irqchip;
    this.mux = chip.ioapic && chip.addEoiListener ? new IoapicLineMux(chip as SplitIrqchipHooks) : null;
    chip.attachRouter(this.router);
  }

  createMsiGroup(config: MsiGroupConfig): MsiInterruptGroup {
    const ctx = { vm: this.opts.vm, router: this.router, watcher: this.watcher, eventfds: this.eventfds, userspaceMsi: this.opts.userspaceMsi };
    return this.keep(new KvmMsiGroup(ctx, config));
  }

  createIntxGroup(config: IntxGroupConfig): IntxInterruptGroup {
    const ctx = { vm: this.opts.vm, watcher: this.watcher, eventfds: this.eventfds };
    if (this.mux) return this.keep(new SplitIntxGroup({ ...ctx, mux: this.mux }, config));
    return this.keep(new KvmIntxGroup(ctx, config));
  }

  batch<T>(fn: () => T): T {
    return this.router.batch(fn);
  }

  stats(): InterruptSourceStats[] {
    return [...this.groups].flatMap((g) => g.stats());
  }

  routerStats(): RouterStats {
    return this.router.stats();
  }

  /** Destroy every group (irqfds deassigned, eventfds closed). */
  dispose(): void {
    this.router.batch(() => {
      for (const g of this.groups) g.destroy();
    });
    this.groups.clear();
    this.mux?.dispose();
  }

  private keep<G extends InterruptSourceGroup>(g: G): G {
    const destroy = g.destroy.bind(g);
    g.destroy = () => {
      destroy();
      this.groups.delete(g);
    };
    this.groups.add(g);
    return g;
  }
}
