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

  it('flattens PCI interrupt rows (non-zero only) and device counters', () => {
    const row = (label: string, total: number) => ({
      label, path: 'irqfd' as const, gsi: 24, masked: false, pending: false, total, coalesced: 0, firedWhileMasked: 0, deliveredAfterUnmask: 0, injected: 0,
    });
    const s: MachineStats = {
      ...stats(0, 0, 0),
      pci: [{ name: 'irq-lab0', bdf: '00:01.0', state: 'running', irqs: [row('v0', 0), row('v5', 9)], device: { fired: 9, latencyBuckets: [0, 0, 4] } }],
    };
    const c = flattenCounters(s);
    expect(c).toMatchObject({ 'pci.irq-lab0.v5.total': 9, 'pci.irq-lab0.fired': 9, 'pci.irq-lab0.latencyBuckets.2': 4 });
    expect(Object.keys(c).some((k) => k.startsWith('pci.irq-lab0.v0.'))).toBe(false);
    expect('pci.irq-lab0.latencyBuckets.0' in c).toBe(false);
  });

  it('refuses silly rates', () => {
    expect(() => new StatsStream(() => stats(0, 0, 0), () => {}, 0)).toThrow(RangeError);
  });
});
