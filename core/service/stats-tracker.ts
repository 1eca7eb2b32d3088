// The service's copy of a VM's statistics stream: the last full sample plus every counter
// brought up to date by the deltas, and the rates of the last delta. statsSnapshot() of a
// VM that has ended answers from here.
import type { StatsSnapshot } from '../api/contract.js';
import type { MachineStats } from '../stats/machine-stats.js';
import { flattenCounters, type StatsMessage } from '../stats/stream.js';

export class StatsTracker {
  private stats?: MachineStats;
  private counters: Record<string, number> = {};
  private lastRates: Record<string, number> = {};
  private t = 0;

  apply(msg: StatsMessage): void {
    if (msg.kind === 'snapshot') {
      this.stats = msg.stats;
      this.counters = { ...msg.counters };
      this.lastRates = {};
    } else {
      if (!this.stats) return; // a delta without its snapshot cannot be applied
      const rates: Record<string, number> = {};
      for (const [k, c] of Object.entries(msg.changes)) {
        this.counters[k] = c.value;
        rates[k] = c.rate;
      }
      this.lastRates = rates;
    }
    this.t = msg.t;
  }

  /** A fresh sample from the host replaces the structure; counters follow it. */
  applySample(stats: MachineStats): void {
    this.stats = stats;
    this.counters = { ...this.counters, ...flattenCounters(stats) };
    this.t = stats.t;
  }

  get hasData(): boolean {
    return this.stats !== undefined;
  }

  snapshot(): StatsSnapshot | undefined {
    if (!this.stats) return undefined;
    // Counters that did not change in the last delta had a rate of zero.
    const rates: Record<string, number> = {};
    for (const k of Object.keys(this.counters)) rates[k] = this.lastRates[k] ?? 0;
    return { stats: { ...this.stats, t: this.t }, counters: { ...this.counters }, rates };
  }
}
