// PirqTable: get_free_pirq allocation rules, GSI map, levels, state()/restore().
import { describe, expect, it } from 'vitest';
import { VmmError } from '../../errors.js';
import { ENOSPC } from '../errno.js';
import { MAP_PIRQ_TYPE_GSI, PirqTable } from './pirq-table.js';

const MSI = 0;

describe('PirqTable allocation (Xen get_free_pirq / QEMU allocate_pirq)', () => {
  it('GSI type: first free in [16, 24), then falls through to the MSI rule', () => {
    const t = new PirqTable(32);
    for (let p = 16; p < 24; p++) expect(t.allocate(MAP_PIRQ_TYPE_GSI)).toBe(p);
    expect(t.allocate(MAP_PIRQ_TYPE_GSI)).toBe(31);
    t.release(18);
    expect(t.allocate(MAP_PIRQ_TYPE_GSI)).toBe(18);
  });

  it('MSI (and any other type): highest free going down to 24; never 0..15; -ENOSPC', () => {
    const t = new PirqTable(28);
    expect(t.allocate(MSI)).toBe(27);
    expect(t.allocate(4)).toBe(26);
    expect(t.allocate(-7)).toBe(25);
    expect(t.allocate(MSI)).toBe(24);
    expect(t.allocate(MSI)).toBe(-ENOSPC);
    for (let p = 16; p < 24; p++) expect(t.allocate(MAP_PIRQ_TYPE_GSI)).toBe(p);
    expect(t.allocate(MAP_PIRQ_TYPE_GSI)).toBe(-ENOSPC);
    for (let p = 0; p < 16; p++) expect(t.inUse(p)).toBe(false);
    expect(t.kind(27)).toBe('unbound');
  });

  it('default nr_pirqs is 256; out-of-range sizes are refused', () => {
    expect(new PirqTable().nrPirqs).toBe(256);
    expect(new PirqTable().allocate(MSI)).toBe(255);
    expect(() => new PirqTable(23)).toThrow(VmmError);
    expect(() => new PirqTable(1.5)).toThrow(VmmError);
  });

  it('mapGsi / release keep the GSI → PIRQ map in step', () => {
    const t = new PirqTable();
    t.mapGsi(20, 10);
    expect(t.gsiPirq(10)).toBe(20);
    expect(t.gsiOf(20)).toBe(10);
    expect(t.kind(20)).toBe('gsi');
    t.release(20);
    expect(t.gsiPirq(10)).toBe(-1);
    expect(t.inUse(20)).toBe(false);
  });
});

describe('PirqTable state()/restore()', () => {
  it('round trip rebuilds entries, the GSI map, provenance and levels (no derived data saved)', () => {
    const a = new PirqTable(64);
    a.mapGsi(16, 10);
    a.mapGsi(3, 5);
    const u = a.allocate(MSI);
    const m = a.allocate(MSI);
    a.setMsiEmu(m, { device: 'irq-lab0', vector: 2, isMsix: true, masked: true });
    a.setGsiLevel(10, true);
    a.setGsiLevel(7, true);
    a.counted(16, false);
    const s = JSON.parse(JSON.stringify(a.state()));
    expect(s).toEqual({
      version: 1,
      nrPirqs: 64,
      gsiLevels: (1 << 10) | (1 << 7),
      pirqs: [
        { pirq: 3, kind: 'gsi', gsi: 5 },
        { pirq: 16, kind: 'gsi', gsi: 10 },
        { pirq: m, kind: 'msi-emu', msi: { device: 'irq-lab0', vector: 2, isMsix: true, masked: true } },
        { pirq: u, kind: 'unbound' },
      ].sort((x, y) => x.pirq - y.pirq),
    });
    const b = new PirqTable(64, (p) => (p === 16 ? 9 : 0));
    b.mapGsi(40, 11); // replaced by restore
    b.restore(s);
    expect(b.gsiPirq(10)).toBe(16);
    expect(b.gsiPirq(5)).toBe(3);
    expect(b.gsiPirq(11)).toBe(-1);
    expect(b.inUse(40)).toBe(false);
    expect(b.gsiLevel(10)).toBe(true);
    expect(b.msiOf(m)).toEqual({ device: 'irq-lab0', vector: 2, isMsix: true, masked: true });
    expect(b.list().find((i) => i.pirq === 16)).toMatchObject({ port: 9, level: true, count: 0 });
    expect(b.state()).toEqual(s);
    // allocation continues from the restored occupancy
    expect(b.allocate(MAP_PIRQ_TYPE_GSI)).toBe(17);
  });

  it('rejects bad saved data without changing the table', () => {
    const t = new PirqTable(32);
    t.mapGsi(16, 10);
    const ok = t.state();
    const bad = [
      { ...ok, version: 2 },
      { ...ok, nrPirqs: 33 },
      { ...ok, pirqs: [{ pirq: 32, kind: 'unbound' }] },
      { ...ok, pirqs: [{ pirq: 1, kind: 'gsi', gsi: 24 }] },
      { ...ok, pirqs: [{ pirq: 1, kind: 'gsi', gsi: 3 }, { pirq: 2, kind: 'gsi', gsi: 3 }] },
      { ...ok, pirqs: [{ pirq: 1, kind: 'unbound' }, { pirq: 1, kind: 'unbound' }] },
      { ...ok, pirqs: [{ pirq: 1, kind: 'weird' }] },
      { ...ok, pirqs: [{ pirq: 1, kind: 'msi-emu', msi: { device: 3, vector: 0, isMsix: true } }] },
      { ...ok, gsiLevels: 2 ** 24 },
    ];
    for (const s of bad) expect(() => t.restore(s as never)).toThrow(VmmError);
    expect(t.state()).toEqual(ok);
  });
});
