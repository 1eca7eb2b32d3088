// Shared helpers: byte-cycle splitting of wide ISA accesses and the manual clock.
import { describe, expect, it } from 'vitest';
import { floatingValue, splitRead, splitWrite, toU32 } from './isa-access.js';
import { ManualTime } from './manual-time.js';

describe('isa-access', () => {
  it('splits reads little-endian and floats bytes outside the device', () => {
    const regs = [0x11, 0x22, 0x33];
    expect(splitRead(0, 4, 3, (o) => regs[o]!)).toBe(0xff332211);
    expect(splitRead(2, 2, 3, (o) => regs[o]!)).toBe(0xff33);
    expect(splitRead(0, 8, 3, (o) => regs[o]!)).toBe(0xff332211);
    expect(splitRead(0, 3, 3, () => 0)).toBeNull();
    expect(splitRead(0.5, 1, 3, () => 0)).toBeNull();
  });

  it('splits writes and drops bytes outside the device', () => {
    const seen: [number, number][] = [];
    expect(splitWrite(1, 4, 0xaabbccdd, 3, (o, b) => seen.push([o, b]))).toBe(true);
    expect(seen).toEqual([[1, 0xdd], [2, 0xcc]]);
    expect(splitWrite(0, 0, 1, 3, () => {})).toBe(false);
  });

  it('reduces values like a 32-bit register', () => {
    expect(toU32(-1)).toBe(0xffffffff);
    expect(toU32(NaN)).toBe(0);
    expect(toU32(Infinity)).toBe(0);
    expect(toU32(2 ** 32 + 5)).toBe(5);
    expect(floatingValue(2)).toBe(0xffff);
  });
});

describe('ManualTime', () => {
  it('fires due timers in deadline order at their deadlines, including chained ones', () => {
    const t = new ManualTime(100n);
    const log: string[] = [];
    t.schedule(300n, () => log.push(`b@${t.now()}`));
    t.schedule(200n, () => {
      log.push(`a@${t.now()}`);
      t.schedule(250n, () => log.push(`c@${t.now()}`));
    });
    const cancelled = t.schedule(260n, () => log.push('never'));
    cancelled.cancel();
    t.advance(1000);
    expect(log).toEqual(['a@200', 'c@250', 'b@300']);
    expect(t.now()).toBe(1100n);
    expect(t.pendingTimers).toBe(0);
  });
});
