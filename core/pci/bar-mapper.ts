// Puts decoded BAR ranges on the machine's buses. A BarSet reports (old, new) range changes;
// the mapper unregisters the old region and registers the new one on the port-I/O or MMIO
// IoBus through a per-BAR wrapper device (IoBus.unregister works per device object). A
// placement the guest may not have is refused without disturbing anything: over guest RAM
// (RAM is a KVM memory slot, not on the bus, so the caller supplies isRam), or over another
// device or BAR (IoBus throws BusOverlapError, which is caught here). A refused BAR stays
// unmapped, is counted by reason, and is retried whenever another region leaves the bus, so
// a guest that reprograms two BARs through a transient overlap ends with both mapped.
import { BusOverlapError, type IoBus } from '../bus/io-bus.js';
import type { IoDevice } from '../bus/types.js';
import type { Bar, BarChangeListener, BarRange } from './bar.js';

export type BarRefusal = 'ram' | 'conflict';

export interface RefusedBar {
  owner: string;
  range: BarRange;
  reason: BarRefusal;
  detail: string;
}

export interface BarMapperOptions {
  io: IoBus;
  mmio: IoBus;
  /** True when any byte of [base, base+length) is guest RAM. */
  overlapsRam(base: number, length: number): boolean;
}

interface Placement {
  owner: string;
  bar: Bar;
  range: BarRange;
  device: IoDevice;
}

export class BarMapper {
  private readonly mapped = new Map<Bar, Placement>();
  private readonly refused = new Map<Bar, RefusedBar & { placement: Placement }>();
  readonly stats = { mapped: 0, unmapped: 0, refusedRam: 0, refusedConflict: 0, retriedOk: 0 };

  constructor(private readonly opts: BarMapperOptions) {}

  /** The listener to give a function's BarSet; `owner` names it in bus listings ("00:03.0"). */
  listenerFor(owner: string): BarChangeListener {
    return (bar, oldRange, newRange) => this.change(owner, bar, oldRange, newRange);
  }

  /** BARs currently refused, with the reason (for logs and the UI). */
  refusals(): RefusedBar[] {
    return [...this.refused.values()].map(({ owner, range, reason, detail }) => ({ owner, range, reason, detail }));
  }

  private change(owner: string, bar: Bar, _old: BarRange | null, next: BarRange | null): void {
    const hadMapping = this.remove(bar);
    if (next) {
      const handler = bar.def.handler;
      const device: IoDevice = {
        name: `${owner}.bar${bar.def.index}`,
        read: (offset, size) => handler.read(offset, size),
        write: (offset, size, value) => handler.write(offset, size, value),
      };
      this.place({ owner, bar, range: next, device });
    }
    if (hadMapping) this.retryRefused();
  }

  /** Drop whatever the BAR had (mapped or refused); true if a bus region went away. */
  private remove(bar: Bar): boolean {
    this.refused.delete(bar);
    const p = this.mapped.get(bar);
    if (!p) return false;
    this.bus(p.range).unregister(p.device);
    this.mapped.delete(bar);
    this.stats.unmapped++;
    return true;
  }

  private place(p: Placement): boolean {
    const { base, size } = p.range;
    if (p.range.space === 'mmio' && this.opts.overlapsRam(base, size)) {
      this.refuse(p, 'ram', `0x${base.toString(16)}+0x${size.toString(16)} overlaps guest RAM`);
      return false;
    }
    try {
      this.bus(p.range).register(base, size, p.device);
    } catch (err) {
      if (!(err instanceof BusOverlapError)) throw err;
      this.refuse(p, 'conflict', err.message);
      return false;
    }
    this.mapped.set(p.bar, p);
    this.stats.mapped++;
    return true;
  }

  private refuse(p: Placement, reason: BarRefusal, detail: string): void {
    if (reason === 'ram') this.stats.refusedRam++;
    else this.stats.refusedConflict++;
    this.refused.set(p.bar, { owner: p.owner, range: p.range, reason, detail, placement: p });
  }

  private retryRefused(): void {
    for (const [bar, r] of [...this.refused]) {
      if (r.reason !== 'conflict') continue;
      this.refused.delete(bar);
      if (this.place(r.placement)) this.stats.retriedOk++;
    }
  }

  private bus(range: BarRange): IoBus {
    return range.space === 'io' ? this.opts.io : this.opts.mmio;
  }
}
