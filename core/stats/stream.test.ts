import { describe, expect, it } from 'vitest';
import { StatsStream, flattenCounters, type StatsMessage } from './stream.js';
import type { MachineStats } from './machine-stats.js';

function stats(t: number, exits: number, tx: number): MachineStats {
  return {
    t, irqchip: 'kernel',
    vcpus: [{ id: 0, state: 'running', exits, localIo: 0, kvm: { irq_injections: 3 } }],
    devices: [{ name: 'uart@0x3f8', stats: { txBytes: tx } }],
    buses: { pio: { reads: 1, writes: 2, unassignedReads: 0, unassignedWrites: 0 }, mmio: { reads: 0, writes: 0, unassignedReads: 0, unassignedWrites: 0 } },
  };
}

describe('StatsStream', () => {
  it('flattens counters under provenance paths', () => {
    expect(flattenCounters(stats(0, 5, 7))).toMatchObject({
      'vcpu0.exits': 5, 'vcpu0.kvm.irq_injections': 3, 'device.uart@0x3f8.txBytes': 7, 'bus.pio.writes': 2,
    });
  });

  it('sends a snapshot, then only changed counters with rates', () => {
    const samples = [stats(1000, 10, 0), stats(1100, 30, 0), stats(1200, 30, 4)];
    const out: StatsMessage[] = [];
    const s = new StatsStream(() => samples.shift()!, (m) => out.push(m));
    s.tick();
    s.tick();
    s.tick();
    expect(out[0]).toMatchObject({ kind: 'snapshot', seq: 0, counters: { 'vcpu0.exits': 10 } });
    expect(out[1]).toEqual({ kind: 'delta', seq: 1, t: 1100, dt: 100, changes: { 'vcpu0.exits': { value: 30, rate: 200 } } });
    expect(out[2]).toEqual({ kind: 'delta', seq: 2, t: 1200, dt: 100, changes: { 'device.uart@0x3f8.txBytes': { value: 4, rate: 40 } } });
  });

  it('refuses silly rates', () => {
    expect(() => new StatsStream(() => stats(0, 0, 0), () => {}, 0)).toThrow(RangeError);
  });
});
