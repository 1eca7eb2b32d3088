// The irq-lab fire→ACK latency histogram (core/irq-lab/latency.ts: 1 µs buckets below 64 µs,
// then power-of-two buckets and one overflow bucket) turned into labelled bars and summary
// numbers. Percentiles are bucket ranges: the histogram cannot say more than that.
import { HISTOGRAM_BUCKETS, LINEAR_BUCKETS, bucketLowerUs } from '../../../core/irq-lab/latency.js';

export interface LatencyBar {
  index: number;
  /** [lowUs, highUs) of the bucket; highUs is Infinity for the overflow bucket. */
  lowUs: number;
  highUs: number;
  count: number;
  label: string;
}

export interface LatencySummary {
  samples: number;
  /** Bucket ranges that hold the 50th, 90th and 99th percentile, as text ("12–13 µs"). */
  p50: string;
  p90: string;
  p99: string;
  /** Range of the slowest non-empty bucket. */
  max: string;
  /** Mean with every sample at its bucket's midpoint (overflow at its lower bound). */
  meanUs: number;
}

export function bucketHighUs(i: number): number {
  if (i >= HISTOGRAM_BUCKETS - 1) return Infinity;
  return i < LINEAR_BUCKETS ? i + 1 : bucketLowerUs(i + 1);
}

/** 12 → "12 µs", 1536 → "1.5 ms", 2097152 → "2.1 s". */
export function formatUs(us: number): string {
  if (us >= 1e6) return `${+(us / 1e6).toFixed(us >= 1e7 ? 0 : 1)} s`;
  if (us >= 1000) return `${+(us / 1000).toFixed(us >= 10000 ? 0 : 1)} ms`;
  return `${+us.toFixed(us >= 10 ? 0 : 1)} µs`;
}

export function rangeLabel(low: number, high: number): string {
  if (high === Infinity) return `≥ ${formatUs(low)}`;
  if (high - low === 1) return formatUs(low);
  const a = formatUs(low);
  const b = formatUs(high);
  // "64–128 µs" rather than "64 µs–128 µs" when both ends share the unit.
  const unit = b.slice(b.indexOf(' '));
  return a.endsWith(unit) ? `${a.slice(0, -unit.length)}–${b}` : `${a}–${b}`;
}

/** Bars from bucket 0 to the last non-empty one (empty array: no samples). */
export function latencyBars(buckets: readonly number[]): LatencyBar[] {
  let last = -1;
  for (let i = 0; i < buckets.length && i < HISTOGRAM_BUCKETS; i++) if ((buckets[i] ?? 0) > 0) last = i;
  const out: LatencyBar[] = [];
  for (let i = 0; i <= last; i++) {
    const lowUs = bucketLowerUs(i);
    const highUs = bucketHighUs(i);
    out.push({ index: i, lowUs, highUs, count: buckets[i] ?? 0, label: rangeLabel(lowUs, highUs) });
  }
  return out;
}

export function latencySummary(bars: readonly LatencyBar[]): LatencySummary | null {
  const samples = bars.reduce((a, b) => a + b.count, 0);
  if (samples === 0) return null;
  const at = (q: number) => {
    const want = q * samples;
    let acc = 0;
    for (const b of bars) {
      acc += b.count;
      if (acc >= want) return b.label;
    }
    return bars[bars.length - 1]!.label;
  };
  let sum = 0;
  for (const b of bars) sum += b.count * (b.highUs === Infinity ? b.lowUs : (b.lowUs + b.highUs) / 2);
  const nonEmpty = bars.filter((b) => b.count > 0);
  return { samples, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: nonEmpty[nonEmpty.length - 1]!.label, meanUs: sum / samples };
}
