// Port 0x92: reset edge, A20 reporting and unimplemented bits.
import { describe, expect, it } from 'vitest';
import { Port92 } from './port92.js';

describe('Port92', () => {
  it('requests a reset on the 0 -> 1 edge of bit 0 only', () => {
    let resets = 0;
    const dev = new Port92({ onReset: () => resets++ });
    dev.write(0, 1, 0x03);
    dev.write(0, 1, 0x03);
    expect(resets).toBe(1);
    dev.write(0, 1, 0x02);
    dev.write(0, 1, 0x03);
    expect(resets).toBe(2);
    dev.reset();
    expect(dev.read(0, 1)).toBe(0x02);
  });

  it('reports A20 changes and reads 0 in unimplemented bits', () => {
    const a20: boolean[] = [];
    const dev = new Port92({ onA20: (e) => a20.push(e) });
    expect(dev.a20Enabled).toBe(true);
    dev.write(0, 1, 0xfc);
    expect(a20).toEqual([false]);
    expect(dev.read(0, 1)).toBe(0x00);
    dev.write(0, 1, 0x02);
    expect(a20).toEqual([false, true]);
  });

  it('handles wide and malformed accesses', () => {
    const dev = new Port92();
    expect(dev.read(0, 2)).toBe(0xff02);
    expect(() => dev.write(0, 7, 1)).not.toThrow();
    expect(dev.stats.badAccesses).toBe(1);
  });
});
