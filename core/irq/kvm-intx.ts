// Level-triggered INTx on KVM's in-kernel irqchip: irqfd with resamplefd
// (KVM_IRQFD_FLAG_RESAMPLE).
//
// Flow: assert = write the trigger eventfd; KVM holds the GSI asserted (with a source id
// shared by every resampling irqfd on that GSI) until the guest EOIs the pin, then
// deasserts it and writes each resamplefd on the GSI. On that notification the source
// re-checks the device's level and writes the trigger again if the device still asserts.
// Shared lines (several functions on one GSI) each get their own irqfd and resamplefd,
// which KVM supports; every source re-checks only its own level, so none is lost.
// A device process can drive the line itself: it writes notifierFd(0) and listens on
// resampleFd(); once resampleFd() is handed out the VMM stops re-checking.
//
// Threading: VM host thread; resample notifications come from the fd watcher on it too.
import type { EventFdOps } from './eventfd.js';
import type { FdWatcher } from './fd-watcher.js';
import { IrqDestroyedError, IrqIndexError, IrqKvmError } from './errors.js';
import type { InterruptSourceId, InterruptSourceStats, IntxGroupConfig, IntxInterruptGroup } from './interrupt-manager.js';
import type { IrqVm } from './kvm-msi-group.js';

export interface KvmIntxContext {
  vm: IrqVm;
  watcher: FdWatcher;
  eventfds: EventFdOps;
}

export function intxSource(config: IntxGroupConfig): InterruptSourceId {
  const s: InterruptSourceId = { device: config.device, pin: config.pin ?? config.gsi };
  if (config.function !== undefined) s.function = config.function;
  return s;
}

export class KvmIntxGroup implements IntxInterruptGroup {
  readonly kind = 'intx' as const;
  readonly length = 1;
  readonly gsi: number;
  private readonly source: InterruptSourceId;
  private readonly triggerFd: number;
  private readonly resample: number;
  private level = false;
  private assertedInKvm = false;
  private enabled = false;
  private external = false;
  private destroyed = false;
  private readonly counters = { total: 0, coalesced: 0, injected: 0, resamples: 0, reasserts: 0 };

  constructor(
    private readonly ctx: KvmIntxContext,
    config: IntxGroupConfig,
  ) {
    this.gsi = config.gsi;
    this.source = intxSource(config);
    this.triggerFd = ctx.eventfds.create();
    this.resample = ctx.eventfds.create();
  }

  enable(): void {
    this.live();
    if (this.enabled) return;
    try {
      this.ctx.vm.irqfd(this.triggerFd, this.gsi, { resampleFd: this.resample });
    } catch (cause) {
      throw new IrqKvmError(`KVM_IRQFD with resample on GSI ${this.gsi} failed`, { cause });
    }
    this.enabled = true;
    if (!this.external) this.ctx.watcher.watch(this.resample, () => this.onResample());
    if (this.level) this.assert();
  }

  disable(): void {
    this.live();
    if (!this.enabled) return;
    this.enabled = false;
    if (this.ctx.watcher.isWatched(this.resample)) this.ctx.watcher.unwatch(this.resample);
    try {
      this.ctx.vm.irqfd(this.triggerFd, this.gsi, { deassign: true });
    } catch (cause) {
      throw new IrqKvmError(`KVM_IRQFD deassign on GSI ${this.gsi} failed`, { cause });
    }
    this.assertedInKvm = false; // KVM drops our assertion with the irqfd
  }

  setLevel(level: boolean): void {
    this.live();
    this.level = level;
    if (!level) return; // KVM deasserts at the next resample; we just do not re-signal
    this.counters.total++;
    if (!this.enabled || this.assertedInKvm) this.counters.coalesced++;
    else this.assert();
  }

  trigger(index: number): void {
    this.check(index);
    this.setLevel(true);
  }

  notifierFd(index: number): number {
    this.check(index);
    return this.triggerFd;
  }

  resampleFd(): number {
    this.live();
    this.external = true;
    if (this.ctx.watcher.isWatched(this.resample)) this.ctx.watcher.unwatch(this.resample);
    return this.resample;
  }

  stats(): InterruptSourceStats[] {
    const c = this.counters;
    return [{
      source: this.source, path: 'level', gsi: this.gsi, masked: !this.enabled, pending: this.assertedInKvm,
      total: c.total, coalesced: c.coalesced, firedWhileMasked: 0, deliveredAfterUnmask: 0, injected: c.injected,
      resamples: c.resamples, reasserts: c.reasserts,
    }];
  }

  destroy(): void {
    if (this.destroyed) return;
    if (this.enabled) this.disable();
    this.destroyed = true;
    this.ctx.eventfds.close(this.triggerFd);
    this.ctx.eventfds.close(this.resample);
  }

  private assert(): void {
    this.assertedInKvm = true;
    this.counters.injected++;
    this.ctx.eventfds.write(this.triggerFd);
  }

  /** The guest EOI'd the GSI and KVM deasserted it: re-check the device's level. */
  private onResample(): void {
    this.counters.resamples++;
    this.assertedInKvm = false;
    if (this.level && this.enabled) {
      this.counters.reasserts++;
      this.assert();
    }
  }

  private check(index: number): void {
    this.live();
    if (index !== 0) throw new IrqIndexError(`INTx group has one source, not ${index}`);
  }

  private live(): void {
    if (this.destroyed) throw new IrqDestroyedError('interrupt group destroyed');
  }
}
