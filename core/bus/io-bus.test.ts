import { describe, expect, it } from 'vitest';
import { BusOverlapError, IoBus } from './io-bus.js';
import type { IoDevice } from './types.js';

function device(name: string, log: string[] = []): IoDevice {
  return {
    name,
    read: (off, size) => (log.push(`r ${off} ${size}`), 0x40 + off),
    write: (off, size, v) => void log.push(`w ${off} ${size} ${v}`),
  };
}

describe('IoBus', () => {
  it('dispatches with offsets relative to the range base', () => {
    const log: string[] = [];
    const bus = new IoBus('pio', 0x10000);
    bus.register(0x3f8, 8, device('uart', log));
    expect(bus.read(0x3fd, 1)).toBe(0x45);
    bus.write(0x3f8, 1, 0x41);
    expect(log).toEqual(['r 5 1', 'w 0 1 65']);
  });

  it('rejects overlapping and out-of-bus ranges, naming both devices', () => {
    const bus = new IoBus('pio', 0x10000);
    bus.register(0x3f8, 8, device('uart'));
    expect(() => bus.register(0x3ff, 2, device('other'))).toThrow(/other at 0x3ff.*overlaps uart at 0x3f8/);
    expect(() => bus.register(0xffff, 2, device('edge'))).toThrow(BusOverlapError);
    expect(() => bus.register(0, 0, device('empty'))).toThrow(BusOverlapError);
    bus.register(0x3f0, 8, device('adjacent'));
    expect(bus.list().map((r) => r.device.name)).toEqual(['adjacent', 'uart']);
  });

  it('answers unassigned accesses with all-ones, drops writes, and counts them', () => {
    const bus = new IoBus('pio', 0x10000);
    bus.register(0x60, 1, device('kbd'));
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1234, 4)).toBe(0xffffffff);
    // An access that starts inside a device but runs past its end is unassigned too.
    expect(bus.read(0x60, 2)).toBe(0xffff);
    bus.write(0x1234, 4, 1);
    expect(bus.stats).toMatchObject({ unassignedReads: 4, unassignedWrites: 1 });
    expect(bus.recentUnassigned.at(-1)).toEqual({ address: 0x1234, size: 4, write: true });
  });

  it('finds the right range among many', () => {
    const bus = new IoBus('mmio', 2 ** 52);
    for (let i = 0; i < 100; i++) bus.register(0x1000 * i, 0x100, device(`d${i}`));
    expect(bus.find(0x1000 * 57 + 0xff)?.device.name).toBe('d57');
    expect(bus.find(0x1000 * 57 + 0x100)).toBeUndefined();
  });
});
