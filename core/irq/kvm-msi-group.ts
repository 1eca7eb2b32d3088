// KVM implementation of an MSI/MSI-X interrupt source group.
//
// Each vector has an eventfd (created when first needed: notifierFd(), trigger() on the
// irqfd path, or unmask) and, while unmasked, a GSI route and an irqfd binding the two, so
// a device process writing the eventfd reaches the guest without the VMM. Paths:
//
//   userspace --unmask, GSI free--> irqfd --mask--> userspace
//   userspace --unmask, no GSI----> fallback --GSIs freed--> irqfd
//   fallback  --mask--------------> userspace           (disable(): all -> userspace)
//
// - mask: deassign the irqfd (KVM_IRQFD DEASSIGN), keep eventfd and GSI, watch the eventfd
//   from userspace; a signal then sets the pending bit (onPending -> the device's PBA).
// - unmask (after the route commit, see GsiRouter.afterCommit): stop watching and drain
//   the eventfd (signals that arrived while masked become pending), assign the irqfd, drain
//   once more and discard (KVM_IRQFD assign injects an already-signalled eventfd without
//   clearing it, and later signals are consumed by KVM itself, so whatever is left was
//   delivered), then deliver the pending bit once with KVM_SIGNAL_MSI and clear it. No
//   signal is lost and none is delivered twice.
// - fallback: no GSI route left; the watched eventfd's signals are injected with
//   KVM_SIGNAL_MSI. When the router reports freed routes, fallback vectors retry.
//
// Counters: trigger() calls and signals read in userspace; signals a device process writes
// on the irqfd path go straight to KVM and are not seen here.
// Threading: VM host thread only; the fd watcher calls back on the same thread.
import type { MsiMessage } from './types.js';
import type { EventFdOps } from './eventfd.js';
import type { FdWatcher } from './fd-watcher.js';
import type { GsiRouter } from './gsi-router.js';
import { IrqDestroyedError, IrqIndexError, IrqKvmError } from './errors.js';
import type { InterruptSourceId, InterruptSourceStats, MsiGroupConfig, MsiInterruptGroup, PendingSink } from './interrupt-manager.js';

/** The VM operations the group needs (core/kvm/vm.ts Vm, or a fake). */
export interface IrqVm {
  irqfd(fd: number, gsi: number, opts?: { deassign?: boolean; resampleFd?: number }): void;
  signalMsi(msg: MsiMessage): number;
}

export interface KvmIrqContext {
  vm: IrqVm;
  router: GsiRouter;
  watcher: FdWatcher;
  eventfds: EventFdOps;
  /**
   * Messages that must never sit on a KVM route (Xen PIRQ-form MSIs: KVM without in-kernel
   * Xen cannot route them to an event channel). Such vectors stay on the fallback path and
   * every signal is injected through vm.signalMsi, which the Xen layer intercepts.
   */
  userspaceMsi?: (msg: MsiMessage) => boolean;
}

export type MsiVectorPath = 'irqfd' | 'userspace' | 'fallback';

class Vector {
  fd = -1;
  msg: MsiMessage | null = null;
  masked = true;
  gsi: number | null = null;
  path: MsiVectorPath = 'userspace';
  watched = false;
  pending = false;
  attachQueued = false;
  total = 0;
  coalesced = 0;
  firedWhileMasked = 0;
  deliveredAfterUnmask = 0;
  injected = 0;
  constructor(readonly source: InterruptSourceId) {}
}

export class KvmMsiGroup implements MsiInterruptGroup {
  readonly kind = 'msi' as const;
  readonly length: number;
  private readonly vectors: Vector[];
  private readonly onPending: PendingSink;
  private enabled = false;
  private destroyed = false;
  private readonly stopFreedListener: () => void;

  constructor(
    private readonly ctx: KvmIrqContext,
    config: MsiGroupConfig,
  ) {
    this.length = config.vectors;
    this.onPending = config.onPending ?? (() => {});
    this.vectors = Array.from({ length: config.vectors }, (_, vector) => {
      const source: InterruptSourceId = { device: config.device, vector };
      if (config.function !== undefined) source.function = config.function;
      return new Vector(source);
    });
    this.stopFreedListener = ctx.router.onRoutesFreed(() => this.retryFallback());
  }

  enable(): void {
    this.live();
    if (this.enabled) return;
    this.enabled = true;
    this.ctx.router.batch(() => this.vectors.forEach((_, i) => this.reconcile(i)));
  }

  disable(): void {
    this.live();
    if (!this.enabled) return;
    this.enabled = false;
    this.ctx.router.batch(() => {
      this.vectors.forEach((_, i) => this.reconcile(i));
      for (const v of this.vectors) this.releaseGsi(v);
    });
  }

  update(index: number, msg: MsiMessage, masked: boolean): void {
    const v = this.vector(index);
    v.msg = { addressLo: msg.addressLo >>> 0, addressHi: msg.addressHi >>> 0, data: msg.data >>> 0 };
    v.masked = masked;
    this.reconcile(index);
  }

  trigger(index: number): void {
    const v = this.vector(index);
    if (v.path === 'irqfd') {
      v.total++;
      this.ctx.eventfds.write(v.fd);
    } else {
      this.onSignal(index, 1);
    }
  }

  notifierFd(index: number): number {
    const v = this.vector(index);
    this.ensureFd(index, v);
    return v.fd;
  }

  pollPending(index: number): boolean {
    const v = this.vector(index);
    if (v.watched) {
      // Take signals the watcher has read but not dispatched yet, and what is in the fd.
      const n = this.ctx.watcher.unwatch(v.fd) + this.ctx.eventfds.read(v.fd);
      this.ctx.watcher.watch(v.fd, (c) => this.onSignal(index, c));
      if (n > 0) this.onSignal(index, n);
    }
    return v.pending;
  }

  /** The current path of vector `index` (for tests and views). */
  path(index: number): MsiVectorPath {
    return this.vector(index).path;
  }

  stats(): InterruptSourceStats[] {
    return this.vectors.map((v) => ({
      source: v.source, path: v.path, gsi: v.gsi, masked: this.effMasked(v), pending: v.pending, total: v.total,
      coalesced: v.coalesced, firedWhileMasked: v.firedWhileMasked, deliveredAfterUnmask: v.deliveredAfterUnmask,
      injected: v.injected,
    }));
  }

  destroy(): void {
    if (this.destroyed) return;
    if (this.enabled) this.disable();
    this.destroyed = true;
    this.stopFreedListener();
    for (const v of this.vectors) {
      if (v.watched) this.ctx.watcher.unwatch(v.fd);
      v.watched = false;
      if (v.fd >= 0) this.ctx.eventfds.close(v.fd);
      v.fd = -1;
    }
  }

  // ---- state machine ------------------------------------------------------------------

  private effMasked(v: Vector): boolean {
    return !this.enabled || v.masked || v.msg === null;
  }

  /** Move vector `i` towards the path its mask, message and GSI availability call for. */
  private reconcile(i: number): void {
    const v = this.vectors[i]!;
    if (this.effMasked(v)) return this.toUserspace(i, v);
    if (this.ctx.userspaceMsi?.(v.msg!)) {
      if (v.path === 'irqfd') this.toUserspace(i, v);
      this.releaseGsi(v);
      return this.toFallback(i, v);
    }
    if (v.path === 'irqfd') {
      this.ctx.router.setMsiRoute(v.gsi!, v.msg!); // message change of an unmasked vector
      return;
    }
    v.gsi ??= this.ctx.router.allocate(v.source);
    if (v.gsi === null) return this.toFallback(i, v);
    this.ctx.router.setMsiRoute(v.gsi, v.msg!);
    if (v.attachQueued) return;
    v.attachQueued = true;
    this.ctx.router.afterCommit(() => {
      v.attachQueued = false;
      if (!this.destroyed) this.attach(i, v);
    });
  }

  /** Route committed: bind the eventfd to the GSI and deliver what arrived meanwhile. */
  private attach(i: number, v: Vector): void {
    if (v.path === 'irqfd' || v.gsi === null || this.effMasked(v)) return; // changed before the commit
    this.ensureFd(i, v);
    const { watcher, eventfds, vm } = this.ctx;
    let late = 0;
    if (v.watched) {
      late = watcher.unwatch(v.fd); // from here on the watcher thread leaves the fd alone
      v.watched = false;
    }
    late += eventfds.read(v.fd);
    if (late > 0) this.onSignal(i, late); // userspace: pending; fallback: injected now
    try {
      vm.irqfd(v.fd, v.gsi);
    } catch (cause) {
      this.watch(i, v);
      throw new IrqKvmError(`KVM_IRQFD for GSI ${v.gsi} failed`, { cause });
    }
    v.path = 'irqfd';
    const delivered = eventfds.read(v.fd); // signalled before the assign: KVM injected it
    if (delivered > 0) v.total += delivered;
    if (v.pending) this.deliverPending(i, v);
  }

  private toUserspace(i: number, v: Vector): void {
    if (v.path === 'irqfd') {
      try {
        this.ctx.vm.irqfd(v.fd, v.gsi!, { deassign: true });
      } catch (cause) {
        throw new IrqKvmError(`KVM_IRQFD deassign for GSI ${v.gsi} failed`, { cause });
      }
    }
    v.path = 'userspace';
    if (v.fd >= 0) this.watch(i, v);
  }

  private toFallback(i: number, v: Vector): void {
    if (v.path === 'userspace' && v.watched) {
      // Unmask: fold what was signalled while masked into the one pending delivery.
      const late = this.ctx.watcher.unwatch(v.fd) + this.ctx.eventfds.read(v.fd);
      v.watched = false;
      if (late > 0) this.onSignal(i, late);
    }
    v.path = 'fallback';
    if (v.fd >= 0) this.watch(i, v);
    if (v.pending) this.deliverPending(i, v);
  }

  private deliverPending(i: number, v: Vector): void {
    this.setPending(i, v, false);
    this.inject(v);
    v.deliveredAfterUnmask++;
  }

  private retryFallback(): void {
    if (this.destroyed) return;
    this.vectors.forEach((v, i) => v.path === 'fallback' && this.reconcile(i));
  }

  private releaseGsi(v: Vector): void {
    if (v.gsi === null) return;
    this.ctx.router.release(v.gsi);
    v.gsi = null;
  }

  /** `count` signals on a vector not on the irqfd path (or found while switching to it). */
  private onSignal(i: number, count: number): void {
    const v = this.vectors[i]!;
    v.total += count;
    if (count > 1) v.coalesced += count - 1;
    if (this.effMasked(v) || v.path === 'userspace') v.firedWhileMasked += count; // read while masked or at unmask
    if (v.path === 'fallback' && !this.effMasked(v)) return this.inject(v);
    if (v.path === 'irqfd') return this.inject(v); // only if a caller raced a switch
    if (v.pending) v.coalesced++;
    else this.setPending(i, v, true);
  }

  private inject(v: Vector): void {
    v.injected++;
    try {
      this.ctx.vm.signalMsi(v.msg!);
    } catch (cause) {
      throw new IrqKvmError('KVM_SIGNAL_MSI failed', { cause });
    }
  }

  private setPending(i: number, v: Vector, pending: boolean): void {
    v.pending = pending;
    this.onPending(i, pending);
  }

  private ensureFd(i: number, v: Vector): void {
    if (v.fd >= 0) return;
    v.fd = this.ctx.eventfds.create();
    if (v.path !== 'irqfd') this.watch(i, v);
  }

  private watch(i: number, v: Vector): void {
    if (v.watched) return;
    this.ctx.watcher.watch(v.fd, (c) => this.onSignal(i, c));
    v.watched = true;
  }

  private vector(index: number): Vector {
    this.live();
    const v = this.vectors[index];
    if (!v) throw new IrqIndexError(`no vector ${index} (group has ${this.length})`);
    return v;
  }

  private live(): void {
    if (this.destroyed) throw new IrqDestroyedError('interrupt group destroyed');
  }
}
