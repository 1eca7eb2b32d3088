// BARs: sizing of every kind, decode bits, range-change callbacks, and placement on the buses.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../bus/io-bus.js';
import type { IoDevice } from '../bus/types.js';
import { BarMapper } from './bar-mapper.js';
import { BarRegionMap } from './bar-region.js';
import { BarSet, type BarDefinition, type BarRange } from './bar.js';
import { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import { CMD_IO, CMD_MEMORY, REG } from './regs.js';

const dummy: IoDevice = { name: 'dummy', read: () => 0, write: () => {} };

function setup(defs: Omit<BarDefinition, 'handler'>[]) {
  const cfg = new ConfigSpace();
  cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
  const bars = new BarSet(cfg, defs.map((d) => ({ ...d, handler: dummy })));
  const events: [number, BarRange | null, BarRange | null][] = [];
  bars.setListener((b, o, n) => events.push([b.def.index, o, n]));
  const bar = (i: number) => REG.bar0 + 4 * i;
  const size = (i: number) => {
    const old = cfg.read(bar(i), 4);
    cfg.write(bar(i), 4, 0xffffffff);
    const v = cfg.read(bar(i), 4);
    cfg.write(bar(i), 4, old);
    return v;
  };
  return { cfg, bars, events, bar, size };
}

describe('BAR sizing', () => {
  it('sizes an I/O BAR with 16-bit decode and its type bit', () => {
    const { size } = setup([{ index: 0, kind: 'io', size: 32 }]);
    expect(size(0)).toBe(0x0000ffe1);
  });

  it('sizes 32-bit memory BARs, prefetchable or not', () => {
    const { size } = setup([
      { index: 0, kind: 'mem32', size: 4096 },
      { index: 1, kind: 'mem32', size: 1 << 20, prefetchable: true },
    ]);
    expect(size(0)).toBe(0xfffff000);
    expect(size(1)).toBe(0xfff00008);
  });

  it('sizes 64-bit BARs below and above 4 GiB over both dwords', () => {
    const { size } = setup([
      { index: 0, kind: 'mem64', size: 1 << 20, prefetchable: true },
      { index: 2, kind: 'mem64', size: 8 * 2 ** 30 },
    ]);
    expect(size(0)).toBe(0xfff0000c);
    expect(size(1)).toBe(0xffffffff);
    expect(size(2)).toBe(0x00000004);
    expect(size(3)).toBe(0xfffffffe);
  });

  it('leaves unimplemented BARs reading 0', () => {
    const { size, cfg } = setup([{ index: 1, kind: 'mem32', size: 16 }]);
    expect(size(0)).toBe(0);
    expect(size(5)).toBe(0);
    expect(cfg.read(REG.romAddress, 4)).toBe(0);
  });

  it('rejects impossible definitions', () => {
    expect(() => setup([{ index: 0, kind: 'io', size: 512 }])).toThrow(PciConfigError);
    expect(() => setup([{ index: 0, kind: 'mem32', size: 3000 }])).toThrow(PciConfigError);
    expect(() => setup([{ index: 5, kind: 'mem64', size: 4096 }])).toThrow(PciConfigError);
    expect(() => setup([{ index: 0, kind: 'mem64', size: 4096 }, { index: 1, kind: 'mem32', size: 4096 }])).toThrow(PciConfigError);
    expect(() => setup([{ index: 0, kind: 'mem32', size: 8 }])).toThrow(PciConfigError);
  });
});

describe('BAR decode', () => {
  it('maps only while the matching decode bit is set and reports each change once', () => {
    const { cfg, events, bars } = setup([
      { index: 0, kind: 'io', size: 16 },
      { index: 1, kind: 'mem32', size: 4096 },
    ]);
    cfg.write(REG.bar0, 4, 0xc000);
    cfg.write(REG.bar0 + 4, 4, 0xc0001000);
    expect(events).toEqual([]);
    cfg.write(REG.command, 2, CMD_IO);
    expect(events).toEqual([[0, null, { index: 0, space: 'io', base: 0xc000, size: 16 }]]);
    cfg.write(REG.command, 2, CMD_IO); // no change, no callback
    cfg.write(REG.command, 2, CMD_IO | CMD_MEMORY);
    expect(events[1]).toEqual([1, null, { index: 1, space: 'mmio', base: 0xc0001000, size: 4096 }]);
    cfg.write(REG.bar0 + 4, 4, 0xc0002000); // move while decoding
    expect(events[2]).toEqual([1, { index: 1, space: 'mmio', base: 0xc0001000, size: 4096 }, { index: 1, space: 'mmio', base: 0xc0002000, size: 4096 }]);
    cfg.write(REG.command, 2, 0);
    expect(events.slice(3).map((e) => [e[0], e[2]])).toEqual([[0, null], [1, null]]);
    expect(bars.bar(1)?.state).toBe('decode-off');
    expect(bars.programmedAddress(1)).toBe(0xc0002000);
  });

  it('maps a 64-bit BAR above 4 GiB once both halves are written', () => {
    const { cfg, events, bars } = setup([{ index: 2, kind: 'mem64', size: 1 << 20, prefetchable: true }]);
    cfg.write(REG.command, 2, CMD_MEMORY);
    cfg.write(REG.bar0 + 8, 4, 0x00100000);
    cfg.write(REG.bar0 + 12, 4, 0x1);
    expect(events.at(-1)?.[2]).toEqual({ index: 2, space: 'mmio', base: 2 ** 32 + 0x100000, size: 1 << 20 });
    expect(bars.list()[0]?.range?.base).toBe(0x1_0010_0000);
  });

  it('does not map unprogrammed, sizing-pattern or out-of-range BARs', () => {
    const { cfg, events, bars, size } = setup([
      { index: 0, kind: 'mem32', size: 4096 },
      { index: 2, kind: 'mem64', size: 4096 },
    ]);
    cfg.write(REG.command, 2, CMD_MEMORY);
    expect(bars.bar(0)?.state).toBe('unprogrammed');
    cfg.write(REG.bar0, 4, 0xffffffff);
    expect(bars.bar(0)?.state).toBe('sizing');
    expect(events).toEqual([]);
    // 64-bit sizing with decode on: the low half alone is a real address below 4 GiB (QEMU
    // maps it too); once the high half is all-ones it is beyond the address limit.
    cfg.write(REG.bar0 + 8, 4, 0xffffffff);
    cfg.write(REG.bar0 + 12, 4, 0xffffffff);
    expect(bars.bar(2)?.state).toBe('out-of-range');
    expect(events.map((e) => e[2]?.base ?? null)).toEqual([0xfffff000, null]);
    expect(size(0)).toBe(0xfffff000);
    expect(bars.stats.sizing).toBeGreaterThan(0);
    expect(bars.stats.outOfRange).toBeGreaterThan(0);
  });

  it('reset returns BARs to 0 and unmaps them', () => {
    const { cfg, events, bars } = setup([{ index: 0, kind: 'mem32', size: 4096 }]);
    cfg.write(REG.bar0, 4, 0xd0000000);
    cfg.write(REG.command, 2, CMD_MEMORY);
    bars.reset();
    expect(cfg.read(REG.bar0, 4)).toBe(0);
    expect(events.at(-1)?.[2]).toBeNull();
  });
});

describe('BarMapper', () => {
  function machine() {
    const io = new IoBus('io', 0x10000);
    const mmio = new IoBus('mmio', 2 ** 52);
    const ramEnd = 0x8000_0000;
    const mapper = new BarMapper({ io, mmio, overlapsRam: (b, l) => b < ramEnd && b + l > 0 });
    mmio.register(0xfec00000, 0x1000, { name: 'ioapic', read: () => 0, write: () => {} });
    return { io, mmio, mapper };
  }
  function fn(mapper: BarMapper, owner: string, handler: IoDevice) {
    const cfg = new ConfigSpace();
    cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
    const bars = new BarSet(cfg, [
      { index: 0, kind: 'mem32', size: 4096, handler },
      { index: 1, kind: 'io', size: 16, handler },
    ]);
    bars.setListener(mapper.listenerFor(owner));
    return cfg;
  }

  it('registers decoded BARs on the right bus and forwards accesses with BAR offsets', () => {
    const { io, mmio, mapper } = machine();
    const seen: string[] = [];
    const h: IoDevice = { name: 'regs', read: (o, s) => (seen.push(`r${o}/${s}`), 0x42), write: (o, s, v) => void seen.push(`w${o}/${s}=${v}`) };
    const cfg = fn(mapper, '00:01.0', h);
    cfg.write(REG.bar0, 4, 0xc0000000);
    cfg.write(REG.bar0 + 4, 4, 0xc100);
    cfg.write(REG.command, 2, CMD_IO | CMD_MEMORY);
    expect(mmio.read(0xc0000010, 4)).toBe(0x42);
    io.write(0xc104, 2, 7);
    expect(seen).toEqual(['r16/4', 'w4/2=7']);
    expect(mmio.list().map((r) => r.device.name)).toContain('00:01.0.bar0');
    cfg.write(REG.command, 2, 0);
    expect(mmio.read(0xc0000010, 4)).toBe(0xffffffff);
    expect(mapper.stats).toMatchObject({ mapped: 2, unmapped: 2 });
  });

  it('refuses BARs over RAM or another device, counts why, and keeps running', () => {
    const { mmio, mapper } = machine();
    const cfg = fn(mapper, '00:01.0', dummy);
    cfg.write(REG.command, 2, CMD_MEMORY);
    cfg.write(REG.bar0, 4, 0x1000_0000); // guest RAM
    expect(mapper.refusals()).toMatchObject([{ owner: '00:01.0', reason: 'ram' }]);
    cfg.write(REG.bar0, 4, 0xfec00000); // the IOAPIC
    expect(mapper.refusals()).toMatchObject([{ reason: 'conflict' }]);
    expect(mapper.stats.refusedRam).toBe(1);
    expect(mapper.stats.refusedConflict).toBe(1);
    expect(mmio.list()).toHaveLength(1);
    cfg.write(REG.bar0, 4, 0xc0000000);
    expect(mapper.refusals()).toEqual([]);
    expect(mmio.list()).toHaveLength(2);
  });

  it('maps a refused BAR once the BAR it overlapped moves away', () => {
    const { mmio, mapper } = machine();
    const a = fn(mapper, '00:01.0', dummy);
    const b = fn(mapper, '00:02.0', dummy);
    for (const c of [a, b]) {
      c.write(REG.bar0, 4, 0xc0000000);
      c.write(REG.command, 2, CMD_MEMORY);
    }
    expect(mapper.refusals()).toMatchObject([{ owner: '00:02.0', reason: 'conflict' }]);
    a.write(REG.bar0, 4, 0xc0010000);
    expect(mapper.refusals()).toEqual([]);
    expect(mapper.stats.retriedOk).toBe(1);
    expect(mmio.find(0xc0000000)?.device.name).toBe('00:02.0.bar0');
    expect(mmio.find(0xc0010000)?.device.name).toBe('00:01.0.bar0');
  });
});

describe('BarRegionMap', () => {
  it('dispatches sub-regions and answers unclaimed bytes with 0', () => {
    const m = new BarRegionMap('bar0', 0x4000);
    const regs: IoDevice = { name: 'regs', read: (o) => 0x100 + o, write: () => {} };
    m.add(0, 0x100, regs).add(0x2000, 0x800, { name: 'table', read: (o) => 0x200 + o, write: () => {} });
    expect(m.read(4, 4)).toBe(0x104);
    expect(m.read(0x2010, 4)).toBe(0x210);
    expect(m.read(0x1000, 4)).toBe(0);
    expect(m.read(0xfe, 4)).toBe(0); // straddles the end of regs
    m.write(0x3000, 4, 1);
    expect(m.stats).toEqual({ unclaimedReads: 2, unclaimedWrites: 1 });
    expect(() => m.add(0x80, 0x100, regs)).toThrow(PciConfigError);
    expect(() => m.add(0x3f00, 0x200, regs)).toThrow(PciConfigError);
  });
});
