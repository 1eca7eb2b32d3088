// Xen-aware INTx group (xen-hvm machines): a PCI function's INTx line that a device process
// drives through eventfds (notifierFd/resampleFd) must still pass the PIRQ GSI hook. The
// plain groups hand those eventfds straight to KVM (irqfd + resamplefd) or to the split
// IOAPIC mux, which bypasses the hook; this group reads the device's trigger eventfd in
// userspace instead and decides per assertion:
//   GSI mapped to a PIRQ → GsiHook.setGsi(gsi, true) raises the bound port (eaten);
//                          the guest's PHYSDEVOP_eoi on that PIRQ is the resample: the
//                          line is deasserted and the device's resamplefd written, so a
//                          device that still asserts re-signals (→ the port again).
//   not mapped           → the inner (plain) group's own eventfds, exactly the device-
//                          process protocol: write its trigger; its resamplefd (EOI of the
//                          IOAPIC pin, in-kernel or split) deasserts and is passed on.
// In-process users (setLevel/trigger) go through the hook the same way, falling back to the
// inner group's setLevel when the GSI is not mapped. map/unmap of an asserted GSI: the hook's
// handoff re-asserts into the inner group on unmap; on map the inner assertion ends at the
// next IOAPIC EOI (KVM cannot deassert an irqfd line from userspace), whose resample then
// makes the device re-signal, now onto the PIRQ.
//
// Threading: VM host thread (fd watcher callbacks, forwarded PHYSDEVOP_eoi, device models).
// No locks; the hook holds none either (gsi-hook.ts).
import type { EventFdOps } from '../../irq/eventfd.js';
import type { FdWatcher } from '../../irq/fd-watcher.js';
import { IrqDestroyedError, IrqIndexError } from '../../irq/errors.js';
import type { InterruptManager, InterruptSourceStats, IntxGroupConfig, IntxInterruptGroup } from '../../irq/interrupt-manager.js';
import { intxSource } from '../../irq/kvm-intx.js';
import type { GsiHook } from './gsi-hook.js';

export interface XenIntxContext {
  hook: GsiHook;
  watcher: FdWatcher;
  eventfds: EventFdOps;
}

export class XenIntxGroup implements IntxInterruptGroup {
  readonly kind = 'intx' as const;
  readonly length = 1;
  readonly gsi: number;
  private triggerFd = -1;
  private resample = -1;
  private innerTrigger = -1;
  private innerResample = -1;
  /** The device process asserted (a trigger signal) and no resample has happened since. */
  private signalled = false;
  /** The in-process level (setLevel). */
  private level = false;
  private enabled = false;
  private destroyed = false;
  private readonly stopEoi: () => void;
  private readonly counters = { total: 0, coalesced: 0, injected: 0, pirq: 0, resamples: 0 };

  constructor(
    private readonly ctx: XenIntxContext,
    private readonly inner: IntxInterruptGroup,
    private readonly config: IntxGroupConfig,
  ) {
    this.gsi = config.gsi;
    this.stopEoi = ctx.hook.onEoi(this.gsi, () => this.onPirqEoi());
    // Handoff on unmap of an asserted GSI: the line goes back to the IOAPIC.
    ctx.hook.wrap(this.gsi, {
      set: (l) => {
        if (l && this.signalled && this.enabled) this.assertInner();
      },
    });
    // Whoever destroys the inner group (the machine's interrupt manager on dispose), we stop
    // watching its resamplefd first: the watcher must never hold a closed fd.
    const innerDestroy = inner.destroy.bind(inner);
    inner.destroy = () => {
      this.unwatchInner();
      innerDestroy();
    };
  }

  enable(): void {
    this.live();
    if (this.enabled) return;
    this.enabled = true;
    this.inner.enable();
    if (this.signalled) this.route();
    if (this.level) this.setLevel(true);
  }

  disable(): void {
    this.live();
    if (!this.enabled) return;
    this.enabled = false;
    this.inner.disable();
  }

  setLevel(level: boolean): void {
    this.live();
    this.level = level;
    if (!this.enabled) return;
    if (this.ctx.hook.setGsi(this.gsi, level)) {
      if (level) this.counters.pirq++;
    } else {
      this.inner.setLevel(level);
    }
  }

  trigger(index: number): void {
    this.check(index);
    this.setLevel(true);
  }

  notifierFd(index: number): number {
    this.check(index);
    if (this.triggerFd < 0) {
      this.triggerFd = this.ctx.eventfds.create();
      this.ctx.watcher.watch(this.triggerFd, (n) => this.onSignal(n));
    }
    return this.triggerFd;
  }

  resampleFd(): number {
    this.live();
    if (this.resample < 0) {
      this.resample = this.ctx.eventfds.create();
      // Become the inner group's "device process": its resamples come to us.
      this.innerTrigger = this.inner.notifierFd(0);
      this.innerResample = this.inner.resampleFd();
      this.ctx.watcher.watch(this.innerResample, (n) => this.onInnerResample(n));
    }
    return this.resample;
  }

  stats(): InterruptSourceStats[] {
    const c = this.counters;
    const inner = this.inner.stats()[0];
    return [{
      source: intxSource(this.config), path: 'level', gsi: this.gsi, masked: !this.enabled, pending: this.signalled || this.level,
      total: c.total, coalesced: c.coalesced, firedWhileMasked: 0, deliveredAfterUnmask: 0,
      injected: c.injected + c.pirq + (inner?.injected ?? 0), resamples: c.resamples, reasserts: 0,
    }];
  }

  /** Assertions that went to a PIRQ's port instead of the IOAPIC. */
  get pirqRaises(): number {
    return this.counters.pirq;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.enabled = false;
    this.stopEoi();
    if (this.triggerFd >= 0) {
      this.ctx.watcher.unwatch(this.triggerFd);
      this.ctx.eventfds.close(this.triggerFd);
    }
    if (this.resample >= 0) this.ctx.eventfds.close(this.resample);
    this.inner.destroy();
  }

  private unwatchInner(): void {
    if (this.innerResample >= 0 && this.ctx.watcher.isWatched(this.innerResample)) this.ctx.watcher.unwatch(this.innerResample);
    this.innerResample = -1;
  }

  private onSignal(count: number): void {
    if (this.destroyed) return;
    this.counters.total += count;
    this.counters.coalesced += this.signalled ? count : count - 1;
    this.signalled = true;
    if (this.enabled) this.route();
  }

  /** Deliver the device's assertion: to the PIRQ when mapped, else to the inner group. */
  private route(): void {
    if (this.ctx.hook.setGsi(this.gsi, true)) this.counters.pirq++;
    else this.assertInner();
  }

  private assertInner(): void {
    if (this.innerTrigger < 0) return void this.inner.setLevel(true);
    this.counters.injected++;
    this.ctx.eventfds.write(this.innerTrigger);
  }

  /** The guest EOI'd the IOAPIC pin (inner resample): pass it on to the device. */
  private onInnerResample(count: number): void {
    if (this.destroyed) return;
    this.counters.resamples += count;
    this.deassert();
  }

  /** PHYSDEVOP_eoi of the PIRQ mapped to this GSI: the PIRQ path's resample. */
  private onPirqEoi(): void {
    if (this.destroyed || !this.signalled) return;
    this.counters.resamples++;
    this.ctx.hook.setGsi(this.gsi, this.level); // lower unless an in-process source holds it
    this.deassert();
  }

  private deassert(): void {
    if (!this.signalled) return;
    this.signalled = false;
    if (this.resample >= 0) this.ctx.eventfds.write(this.resample);
  }

  private check(index: number): void {
    this.live();
    if (index !== 0) throw new IrqIndexError(`INTx group has one source, not ${index}`);
  }

  private live(): void {
    if (this.destroyed) throw new IrqDestroyedError('interrupt group destroyed');
  }
}

/**
 * The interrupt manager PCI devices get on a xen-hvm machine: `base` with INTx groups made
 * Xen-aware (above); MSI groups unchanged (PIRQ-form MSIs are handled by msi-pirq.ts).
 */
export function xenInterruptManager(base: InterruptManager, ctx: XenIntxContext): InterruptManager {
  return {
    createMsiGroup: (c) => base.createMsiGroup(c),
    createIntxGroup: (c) => new XenIntxGroup(ctx, base.createIntxGroup(c), c),
    batch: (fn) => base.batch(fn),
    stats: () => base.stats(),
  };
}
