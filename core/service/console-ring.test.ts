import { describe, expect, it } from 'vitest';
import { ConsoleRing } from './console-ring.js';
import { StatsTracker } from './stats-tracker.js';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('ConsoleRing', () => {
  it('keeps the newest bytes, oldest first, across wrap-around', () => {
    const r = new ConsoleRing(4);
    expect(r.contents()).toEqual(bytes());
    r.push(bytes(1, 2, 3));
    expect(r.contents()).toEqual(bytes(1, 2, 3));
    r.push(bytes(4, 5));
    expect(r.contents()).toEqual(bytes(2, 3, 4, 5));
    r.push(bytes(6, 7, 8, 9, 10, 11));
    expect(r.contents()).toEqual(bytes(8, 9, 10, 11));
    r.push(bytes(12));
    expect(r.contents()).toEqual(bytes(9, 10, 11, 12));
  });
});

describe('StatsTracker', () => {
  const stats = { t: 1, irqchip: 'kernel', vcpus: [], devices: [], buses: { pio: {}, mmio: {} } };
  it('applies deltas to the snapshot and reports the last rates, zero for the rest', () => {
    const t = new StatsTracker();
    expect(t.snapshot()).toBeUndefined();
    t.apply({ kind: 'delta', seq: 0, t: 1, dt: 100, changes: { a: { value: 1, rate: 1 } } });
    expect(t.snapshot()).toBeUndefined(); // no snapshot yet: nothing to apply to
    t.apply({ kind: 'snapshot', seq: 1, t: 1, stats, counters: { a: 1, b: 2 } });
    t.apply({ kind: 'delta', seq: 2, t: 101, dt: 100, changes: { a: { value: 11, rate: 100 }, c: { value: 1, rate: 10 } } });
    expect(t.snapshot()).toEqual({ stats: { ...stats, t: 101 }, counters: { a: 11, b: 2, c: 1 }, rates: { a: 100, b: 0, c: 10 } });
  });
});
