// Debug-exit port: status passing, floating reads and hostile writes.
import { describe, expect, it } from 'vitest';
import { DebugExit } from './debug-exit.js';

describe('DebugExit', () => {
  it('ends the VM with the low byte of any write', () => {
    const statuses: number[] = [];
    const dev = new DebugExit({ onExit: (s) => statuses.push(s) });
    dev.write(0, 4, 0x1234_5601); // outl(0xf4, status) as lab_exit does
    dev.write(0, 1, 0);
    dev.write(0, 2, 0xffff);
    expect(statuses).toEqual([0x01, 0x00, 0xff]);
    expect(dev.stats.exits).toBe(3);
    expect(dev.lastStatus).toBe(0xff);
  });

  it('reads float high at the access size', () => {
    const dev = new DebugExit({ onExit: () => {} });
    expect(dev.read(0, 1)).toBe(0xff);
    expect(dev.read(0, 2)).toBe(0xffff);
    expect(dev.read(0, 4)).toBe(0xffffffff);
  });

  it('tolerates hostile values and sizes', () => {
    const statuses: number[] = [];
    const dev = new DebugExit({ onExit: (s) => statuses.push(s) });
    dev.write(0, 3, NaN);
    dev.write(5, 1, -1);
    dev.write(0, 1, 2 ** 53 + 2);
    expect(statuses).toEqual([0, 0xff, 2]);
    expect(dev.stats.badAccesses).toBe(1);
    expect(() => dev.read(NaN, 0)).not.toThrow();
  });
});
