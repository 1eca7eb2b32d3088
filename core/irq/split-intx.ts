// Level-triggered INTx on the split irqchip: through our userspace IOAPIC.
//
// Flow: each source has a level; the IOAPIC pin sees the OR of all sources on it
// (IoapicLineMux), set with ioapic.setIrq() only when the OR changes. The IOAPIC itself
// re-delivers on EOI while the pin stays high (Remote IRR), so in-process devices need
// nothing more. A device process drives its source through notifierFd(0) (a signal sets
// its level) and learns of EOIs through resampleFd(): on an EOI of the pin's vector, each
// such source is deasserted and its resamplefd written, before the IOAPIC re-checks the
// pin (the EOI listener runs ahead of ioapic.eoi()); the device re-signals if it still
// needs service. The same protocol as KVM's resamplefd, so a device process cannot tell
// the two irqchip modes apart.
//
// Threading: VM host thread only.
import * as Rte from '../devices/ioapic-rte.js';
import type { EventFdOps } from './eventfd.js';
import type { FdWatcher } from './fd-watcher.js';
import { IrqDestroyedError, IrqIndexError } from './errors.js';
import type { InterruptSourceId, InterruptSourceStats, IntxGroupConfig, IntxInterruptGroup } from './interrupt-manager.js';
import { intxSource } from './kvm-intx.js';

/** What the mux needs from the split irqchip (core/machine/irqchip.ts SplitIrqchip). */
export interface SplitIrqchipHooks {
  readonly ioapic: {
    setIrq(pin: number, level: boolean): void;
    state(): { redirtbl: [lo: number, hi: number][] };
  };
  /** cb(vector) runs on every IOAPIC EOI, before the IOAPIC processes it. */
  addEoiListener(cb: (vector: number) => void): () => void;
}

/** Per-pin OR of all INTx sources, and EOI fan-out to them. One per split irqchip. */
export class IoapicLineMux {
  private readonly pins = new Map<number, Set<SplitIntxGroup>>();
  private readonly levels = new Map<number, boolean>();
  private readonly stopEoi: () => void;

  constructor(private readonly chip: SplitIrqchipHooks) {
    this.stopEoi = chip.addEoiListener((v) => this.onEoi(v));
  }

  add(pin: number, src: SplitIntxGroup): void {
    let set = this.pins.get(pin);
    if (!set) this.pins.set(pin, (set = new Set()));
    set.add(src);
  }

  remove(pin: number, src: SplitIntxGroup): void {
    this.pins.get(pin)?.delete(src);
    this.update(pin);
  }

  /** Recompute the pin's OR and pass a change on to the IOAPIC. */
  update(pin: number): void {
    let level = false;
    for (const s of this.pins.get(pin) ?? []) level ||= s.asserted();
    if ((this.levels.get(pin) ?? false) === level) return;
    this.levels.set(pin, level);
    this.chip.ioapic.setIrq(pin, level);
  }

  dispose(): void {
    this.stopEoi();
  }

  private onEoi(vector: number): void {
    const rtes = this.chip.ioapic.state().redirtbl;
    for (const [pin, set] of this.pins) {
      const lo = rtes[pin]?.[0];
      if (lo === undefined || !Rte.rteIsLevel(lo) || Rte.rteVector(lo) !== (vector & Rte.RTE_VECTOR_MASK)) continue;
      for (const s of set) s.onEoi();
      this.update(pin);
    }
  }
}

export class SplitIntxGroup implements IntxInterruptGroup {
  readonly kind = 'intx' as const;
  readonly length = 1;
  readonly gsi: number;
  private readonly source: InterruptSourceId;
  private level = false; // driven by setLevel()
  private signalled = false; // driven by the trigger eventfd, cleared on EOI
  private triggerFd = -1;
  private resample = -1;
  private enabled = false;
  private destroyed = false;
  private readonly counters = { total: 0, coalesced: 0, injected: 0, resamples: 0, reasserts: 0 };

  constructor(
    private readonly ctx: { mux: IoapicLineMux; watcher: FdWatcher; eventfds: EventFdOps },
    config: IntxGroupConfig,
  ) {
    this.gsi = config.gsi;
    this.source = intxSource(config);
    ctx.mux.add(this.gsi, this);
  }

  /** The line as the IOAPIC pin sees it. */
  asserted(): boolean {
    return this.enabled && (this.level || this.signalled);
  }

  enable(): void {
    this.live();
    this.enabled = true;
    this.ctx.mux.update(this.gsi);
  }

  disable(): void {
    this.live();
    this.enabled = false;
    this.ctx.mux.update(this.gsi);
  }

  setLevel(level: boolean): void {
    this.live();
    if (level) this.raise(1);
    else {
      this.level = false;
      this.ctx.mux.update(this.gsi);
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
      this.ctx.watcher.watch(this.triggerFd, (c) => this.onSignal(c));
    }
    return this.triggerFd;
  }

  resampleFd(): number {
    this.live();
    if (this.resample < 0) this.resample = this.ctx.eventfds.create();
    return this.resample;
  }

  /** EOI of this pin's vector (before the IOAPIC re-checks the pin). */
  onEoi(): void {
    this.counters.resamples++;
    if (this.level) this.counters.reasserts++;
    if (!this.signalled) return;
    this.signalled = false;
    if (this.resample >= 0) this.ctx.eventfds.write(this.resample);
  }

  stats(): InterruptSourceStats[] {
    const c = this.counters;
    return [{
      source: this.source, path: 'level', gsi: this.gsi, masked: !this.enabled, pending: this.asserted(),
      total: c.total, coalesced: c.coalesced, firedWhileMasked: 0, deliveredAfterUnmask: 0, injected: c.injected,
      resamples: c.resamples, reasserts: c.reasserts,
    }];
  }

  destroy(): void {
    if (this.destroyed) return;
    this.enabled = false;
    this.ctx.mux.remove(this.gsi, this);
    this.destroyed = true;
    if (this.triggerFd >= 0) {
      this.ctx.watcher.unwatch(this.triggerFd);
      this.ctx.eventfds.close(this.triggerFd);
    }
    if (this.resample >= 0) this.ctx.eventfds.close(this.resample);
  }

  private onSignal(count: number): void {
    if (this.destroyed) return;
    this.counters.total += count;
    if (count > 1) this.counters.coalesced += count - 1;
    if (this.signalled) this.counters.coalesced++;
    this.signalled = true;
    this.counters.injected++;
    this.ctx.mux.update(this.gsi);
  }

  private raise(count: number): void {
    this.counters.total += count;
    if (this.level) this.counters.coalesced++;
    else this.counters.injected++;
    this.level = true;
    this.ctx.mux.update(this.gsi);
  }

  private check(index: number): void {
    this.live();
    if (index !== 0) throw new IrqIndexError(`INTx group has one source, not ${index}`);
  }

  private live(): void {
    if (this.destroyed) throw new IrqDestroyedError('interrupt group destroyed');
  }
}
