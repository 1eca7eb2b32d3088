import { describe, expect, it } from 'vitest';
import { deltaMsg, machineStats, snapshotMsg } from '../views/vm/testing/fixtures.js';
import { SERIES_TOTAL, SERIES_XEN_UPCALLS, StatsModel, seriesDevice, seriesVcpu } from './stats-decode.js';

describe('StatsModel', () => {
  it('applies a snapshot into counters, interrupt rows and vCPU ids', () => {
    const m = new StatsModel();
    expect(m.apply(snapshotMsg(1000, { 'pci.lab0.v1.total': 7, 'pci.lab0.v1.coalesced': 2, 'vcpu0.exits': 10 }))).toBe(true);
    expect(m.counter('pci.lab0.v1.total')).toBe(7);
    const row = m.irq('lab0', 'v1')!;
    expect(row).toMatchObject({ device: 'lab0', msixIndex: 1, total: 7, coalesced: 2, gsi: 25, path: 'irqfd' });
    // Rows known from the sample exist even with all-zero counters (left out of the flat map).
    expect(m.irq('lab0', 'v0')).toMatchObject({ total: 0, msixIndex: 0 });
    expect([...m.vcpuIds].sort()).toEqual([0, 1]);
    expect(m.totalCount).toBe(7);
    expect(m.pciDevices()).toEqual(['lab0']);
  });

  it('applies deltas: values and rates of changed keys, zero rate for the unchanged ones', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.v0.total': 1 }));
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.v0.total': [11, 100], 'pci.lab0.v5.total': [3, 30], 'vcpu1.exits': [40, 200] }));
    expect(m.irq('lab0', 'v0')).toMatchObject({ total: 11, rate: 100 });
    expect(m.irq('lab0', 'v5')).toMatchObject({ total: 3, rate: 30, msixIndex: 5 });
    expect(m.totalRate).toBe(130);
    expect(m.deviceRates.get('lab0')).toBe(130);
    m.apply(deltaMsg(1200, 2, { 'pci.lab0.v5.total': [6, 30] }));
    expect(m.irq('lab0', 'v0')!.rate).toBe(0);
    expect(m.rate('vcpu1.exits')).toBe(0);
    expect(m.rate('pci.lab0.v5.total')).toBe(30);
    // Device and total rates average over the last second: (17 - 1) over 200 ms.
    expect(m.totalRate).toBe(80);
    expect(m.seq).toBe(2);
  });

  it('drops messages that are not newer than the model (mid-stream join)', () => {
    const m = new StatsModel();
    m.applySnapshot(machineStats(2000), { 'pci.lab0.v0.total': 50 }, { 'pci.lab0.v0.total': 10 });
    expect(m.irq('lab0', 'v0')!.rate).toBe(10);
    expect(m.apply(deltaMsg(1900, 8, { 'pci.lab0.v0.total': [40, 5] }))).toBe(false);
    expect(m.apply(deltaMsg(2000, 9, { 'pci.lab0.v0.total': [50, 5] }))).toBe(false);
    expect(m.counter('pci.lab0.v0.total')).toBe(50);
    expect(m.stale).toBe(2);
    expect(m.apply(deltaMsg(2100, 10, { 'pci.lab0.v0.total': [60, 100] }))).toBe(true);
    expect(m.counter('pci.lab0.v0.total')).toBe(60);
  });

  it('a new stream snapshot replaces everything (VM host restarted)', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.v3.total': 99, 'old.key': 1 }));
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.v3.total': [100, 10] }));
    m.apply(snapshotMsg(5000, { 'pci.lab0.v0.total': 1 }, 0));
    expect(m.counters.has('old.key')).toBe(false);
    expect(m.irq('lab0', 'v3')).toBeUndefined();
    expect(m.totalRate).toBe(0);
    expect(m.totalCount).toBe(1);
  });

  it('records one series point per message: total, per device, per vCPU, Xen upcalls when present', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'xen.vcpu0.upcalls': 1 }));
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.v0.total': [5, 50], 'vcpu0.exits': [20, 100], 'xen.vcpu0.upcalls': [3, 20], 'xen.vcpu1.upcalls': [1, 10] }));
    expect(m.series.xs).toEqual([1, 1.1]);
    expect(m.series.column(SERIES_TOTAL)).toEqual([0, 50]);
    expect(m.series.column(seriesDevice('lab0'))).toEqual([0, 50]);
    expect(m.series.column(seriesVcpu(0))).toEqual([0, 100]);
    expect(m.series.column(SERIES_XEN_UPCALLS)).toEqual([0, 30]);
  });

  it('reads the latency histogram buckets of a device densely', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.latencyBuckets.2': 4, 'pci.lab0.latencyBuckets.70': 1, 'pci.lab0.fired': 5 }));
    const b = m.latencyBuckets('lab0');
    expect(b.length).toBe(71);
    expect(b[2]).toBe(4);
    expect(b[70]).toBe(1);
    expect(b.reduce((a, x) => a + x, 0)).toBe(5);
  });

  it('counts from a baseline after a reset, and drops it when the stream restarts', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.v0.total': 100, 'vcpu0.exits': 50 }));
    m.setBaseline(true);
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.v0.total': [130, 300], 'vcpu0.exits': [60, 100] }));
    expect(m.irqCount(m.irq('lab0', 'v0')!, 'total')).toBe(30);
    expect(m.sinceBaseline('vcpu0.exits', m.counter('vcpu0.exits'))).toBe(10);
    // Keys that appeared after the reset count from zero; a counter that went backwards starts over.
    expect(m.sinceBaseline('new.key', 7)).toBe(7);
    expect(m.sinceBaseline('vcpu0.exits', 20)).toBe(20);
    m.apply(snapshotMsg(9000, { 'pci.lab0.v0.total': 5 }));
    expect(m.baseline).toBeNull();
    expect(m.irqCount(m.irq('lab0', 'v0')!, 'total')).toBe(5);
  });

  it('keeps the recent rates of each row for its sparkline, oldest first', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, {}));
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.v0.total': [10, 100] }));
    m.apply(deltaMsg(1200, 2, { 'pci.lab0.v0.total': [15, 50] }));
    const pts = m.spark(m.irq('lab0', 'v0')!, 59, 16).split(' ').map((p) => p.split(',').map(Number));
    expect(pts).toHaveLength(60);
    expect(pts.at(-1)).toEqual([59, 8]); // 50/s, the newest: half height
    expect(pts.at(-2)).toEqual([58, 0.5]); // 100/s, the maximum: top
    expect(pts[0]).toEqual([0, 15.5]); // before the row existed: 0
  });

  it("counts a device's interrupts from its own raise counter when its rows trail it", () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.fired': 1000, 'pci.lab0.v0.total': 2 }));
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.fired': [11000, 100000], 'pci.lab0.v0.total': [3, 10] }));
    expect(m.deviceRates.get('lab0')).toBe(100000);
    expect(m.totalRate).toBe(100000);
    expect(m.totalCount).toBe(11000);
    expect(m.series.column(seriesDevice('lab0'))!.at(-1)).toBe(100000);
    // The rows' count (userspace path, all seen by the VMM) wins when it is larger.
    m.apply(deltaMsg(1200, 2, { 'pci.lab0.v0.total': [20003, 200000] }));
    expect(m.totalCount).toBe(20003);
    expect(m.totalRate).toBeCloseTo(((20003 - 1000) * 1000) / 200);
  });

  it('averages device rates over a second, so counts reported in steps do not flicker', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.fired': 0 }));
    const seen: number[] = [];
    for (let i = 1; i <= 20; i++) {
      // The device's count moves every 5th tick by 50,000: 100,000 interrupts/s.
      if (i % 5 === 0) m.apply(deltaMsg(1000 + i * 100, i, { 'pci.lab0.fired': [i * 10000, 500000] }));
      else m.apply(deltaMsg(1000 + i * 100, i, { 'vcpu0.exits': [i, 10] }));
      seen.push(Math.round(m.totalRate));
    }
    // Once a full second is in the window, every tick shows the true rate, while the
    // per-tick rate of the counter alternates between 0 and 500,000.
    expect(seen.slice(10)).toEqual(new Array(10).fill(100000));
    expect(m.rate('pci.lab0.fired')).toBe(500000);
  });

  it('applies a large message in slices that end at the deadline, with the same result', () => {
    const counters: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) counters[`pci.lab0.v${i}.total`] = i;
    const whole = new StatsModel();
    whole.applySnapshot(machineStats(1000), counters, { 'pci.lab0.v7.total': 70 });
    const sliced = new StatsModel();
    const load = sliced.loadSnapshot(machineStats(1000), counters, { 'pci.lab0.v7.total': 70 })!;
    let steps = 1;
    // A deadline already past: every step does one bounded chunk and stops.
    while (!load.step(0)) steps++;
    expect(steps).toBeGreaterThan(2);
    expect(sliced.t).toBe(1000);
    expect(sliced.counter('pci.lab0.v1999.total')).toBe(1999);
    expect(sliced.irq('lab0', 'v7')).toMatchObject({ total: 7, rate: 70 });
    expect(sliced.totalCount).toBe(whole.totalCount);
    expect(sliced.series.length).toBe(1);

    const changes: Record<string, [number, number]> = {};
    for (let i = 0; i < 2000; i++) changes[`pci.lab0.v${i}.total`] = [i + 1, 10];
    const delta = sliced.begin(deltaMsg(1100, 1, changes))!;
    expect(delta.step(0)).toBe(false);
    // Not closed yet: the tick (time, series point) is only taken after the last key.
    expect(sliced.t).toBe(1000);
    while (!delta.step(0));
    expect(sliced.t).toBe(1100);
    expect(sliced.irq('lab0', 'v1999')).toMatchObject({ total: 2000, rate: 10 });
    expect(sliced.series.length).toBe(2);
    expect(sliced.begin(deltaMsg(1100, 2, {}))).toBeNull();
  });

  it('indexes latency buckets as their keys appear, ignoring absurd bucket numbers', () => {
    const m = new StatsModel();
    m.apply(snapshotMsg(1000, { 'pci.lab0.latencyBuckets.1': 3, 'pci.lab0.latencyBuckets.99999': 1 }));
    m.apply(deltaMsg(1100, 1, { 'pci.lab0.latencyBuckets.3': [2, 20], 'pci.lab1.latencyBuckets.0': [5, 50] }));
    expect(m.latencyBuckets('lab0')).toEqual([0, 3, 0, 2]);
    expect(m.latencyBuckets('lab1')).toEqual([5]);
    expect(m.latencyBuckets('nope')).toEqual([]);
  });
});
