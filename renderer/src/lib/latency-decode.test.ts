import { describe, expect, it } from 'vitest';
import { HISTOGRAM_BUCKETS, LINEAR_BUCKETS, bucketOf } from '../../../core/irq-lab/latency.js';
import { bucketHighUs, formatUs, latencyBars, latencySummary, rangeLabel } from './latency-decode.js';

describe('latency histogram', () => {
  it('bucket bounds agree with the device-side bucketing', () => {
    for (let i = 0; i < HISTOGRAM_BUCKETS - 1; i++) {
      const highUs = bucketHighUs(i);
      expect(bucketOf((highUs - 1) * 1000)).toBe(i);
      expect(bucketOf(highUs * 1000)).toBe(i + 1);
    }
    expect(bucketHighUs(HISTOGRAM_BUCKETS - 1)).toBe(Infinity);
  });

  it('labels ranges', () => {
    expect(rangeLabel(5, 6)).toBe('5 µs');
    expect(rangeLabel(64, 128)).toBe('64–128 µs');
    expect(rangeLabel(1024, 2048)).toBe('1–2 ms');
    expect(rangeLabel(512, 1024)).toBe('512 µs–1 ms');
    expect(rangeLabel(2097152, 4194304)).toBe('2.1–4.2 s');
    expect(rangeLabel(1 << 26, Infinity)).toBe('≥ 67 s');
    expect(formatUs(2420425.6)).toBe('2.4 s');
    expect(formatUs(3.25)).toBe('3.3 µs');
  });

  it('makes bars up to the last non-empty bucket and summarises them', () => {
    const buckets: number[] = [];
    buckets[3] = 50;
    buckets[10] = 40;
    buckets[LINEAR_BUCKETS + 2] = 10; // 256–512 µs
    const bars = latencyBars(buckets);
    expect(bars).toHaveLength(LINEAR_BUCKETS + 3);
    expect(bars[4]!.count).toBe(0);
    const s = latencySummary(bars)!;
    expect(s.samples).toBe(100);
    expect(s.p50).toBe('3 µs');
    expect(s.p90).toBe('10 µs');
    expect(s.p99).toBe('256–512 µs');
    expect(s.max).toBe('256–512 µs');
    expect(s.meanUs).toBeCloseTo((50 * 3.5 + 40 * 10.5 + 10 * 384) / 100);
    expect(latencySummary(latencyBars([]))).toBeNull();
  });
});
