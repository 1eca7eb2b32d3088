// 8254 PIT: the channel 2 sequences Linux TSC calibration uses, channel 0 IRQ pulses,
// latch/read-back/access modes, BCD and hostile accesses.
import { describe, expect, it } from 'vitest';
import { ManualTime } from './manual-time.js';
import { Pit8254, PIT_FREQ_HZ } from './pit8254.js';
import { Port61 } from './port61.js';
import { RecordingIrqLine } from './test-helpers.js';

const ticksNs = (ticks: number) => BigInt(Math.ceil((ticks * 1e9) / PIT_FREQ_HZ));

function setup(minIrqPeriodNs?: number) {
  const time = new ManualTime(5_000_000n);
  const irq = new RecordingIrqLine();
  const pit = new Pit8254({ clock: time.clock, scheduler: time, irq0: irq, ...(minIrqPeriodNs === undefined ? {} : { minIrqPeriodNs }) });
  const port61 = new Port61({ pit, clock: time.clock });
  const outb = (port: number, v: number) => pit.write(port - 0x40, 1, v);
  const inb = (port: number) => pit.read(port - 0x40, 1);
  return { time, irq, pit, port61, outb, inb };
}

describe('Pit8254 channel 2 as Linux TSC calibration uses it', () => {
  it('pit_calibrate_tsc: mode 0 OUT2 rises at terminal count (port 0x61 bit 5)', () => {
    const { time, port61, outb } = setup();
    port61.write(0, 1, (port61.read(0, 1) & ~0x02) | 0x01);
    outb(0x43, 0xb0); // channel 2, LSB/MSB, mode 0, binary
    const latch = 11932; // 10 ms
    outb(0x42, latch & 0xff);
    outb(0x42, latch >> 8);
    expect(port61.read(0, 1) & 0x20).toBe(0);
    time.advance(ticksNs(latch) - 1000n);
    expect(port61.read(0, 1) & 0x20).toBe(0);
    time.advance(2000n);
    expect(port61.read(0, 1) & 0x21).toBe(0x21);
  });

  it('quick_pit_calibrate: reading LSB then MSB shows the counter going down', () => {
    const { time, port61, outb, inb } = setup();
    port61.write(0, 1, 0x01);
    outb(0x43, 0xb0);
    outb(0x42, 0xff);
    outb(0x42, 0xff);
    const read = () => inb(0x42) | (inb(0x42) << 8);
    expect(read()).toBe(0xffff);
    time.advance(ticksNs(256));
    expect(read()).toBe(0xffff - 256);
    time.advance(ticksNs(0x10000)); // wraps after terminal count in mode 0
    expect(read()).toBe(0xffff - 256);
  });

  it('gate low pauses mode 0 counting and resumes on high', () => {
    const { time, port61, outb, inb } = setup();
    outb(0x43, 0xb0);
    outb(0x42, 0x00);
    outb(0x42, 0x10); // 0x1000, gate still low: not counting
    time.advance(1_000_000n);
    expect(inb(0x42) | (inb(0x42) << 8)).toBe(0x1000);
    port61.write(0, 1, 0x01);
    time.advance(ticksNs(0x100));
    port61.write(0, 1, 0x00);
    time.advance(1_000_000n);
    expect(inb(0x42) | (inb(0x42) << 8)).toBe(0x0f00);
  });
});

describe('Pit8254 channel 0 IRQ', () => {
  it('mode 2 pulses IRQ 0 every period', () => {
    const { time, irq, pit, outb } = setup();
    outb(0x43, 0x34); // channel 0, LSB/MSB, mode 2
    outb(0x40, 1193 & 0xff);
    outb(0x40, 1193 >> 8);
    time.advance(ticksNs(1193) - 10n);
    expect(irq.history).toEqual([]);
    time.advance(ticksNs(1193 * 9) + 20n);
    expect(irq.history).toEqual(Array(10).fill([true, false]).flat());
    expect(pit.stats.irqPulses).toBe(10);
  });

  it('mode 0 fires exactly once; a new control word stops the channel', () => {
    const { time, irq, outb, pit } = setup();
    outb(0x43, 0x30);
    outb(0x40, 0x00);
    outb(0x40, 0x10);
    time.advance(100_000_000n);
    expect(irq.risingEdges).toBe(1);
    expect(pit.getOut(0)).toBe(true);
    outb(0x43, 0x30);
    expect(pit.getOut(0)).toBe(false);
    time.advance(100_000_000n);
    expect(irq.risingEdges).toBe(1);
  });

  it('late timers coalesce ticks and count them as missed', () => {
    const time = new ManualTime();
    const scheduled: (() => void)[] = [];
    // A scheduler that fires nothing until we say so, at a time we choose.
    const lazy = new Pit8254({ clock: time.clock, scheduler: { schedule: (_d, cb) => (scheduled.push(cb), { cancel() {} }) } });
    lazy.write(3, 1, 0x34);
    lazy.write(0, 1, 0xa9);
    lazy.write(0, 1, 0x04); // 1193 ticks
    time.advance(ticksNs(1193 * 5));
    scheduled.shift()!();
    expect(lazy.stats.irqPulses).toBe(1);
    expect(lazy.stats.missedTicks).toBe(4);
  });

  it('clamps very short periodic programs to the minimum IRQ period', () => {
    const { time, pit, outb } = setup(200_000);
    outb(0x43, 0x34);
    outb(0x40, 2);
    outb(0x40, 0);
    time.advance(10_000_000n);
    expect(pit.stats.clampedPeriods).toBe(1);
    expect(pit.stats.irqPulses).toBeLessThanOrEqual(51);
    expect(pit.stats.irqPulses).toBeGreaterThanOrEqual(49);
  });
});

describe('Pit8254 register interface', () => {
  it('latch command freezes the value; a second latch is ignored until read', () => {
    const { time, outb, inb } = setup();
    outb(0x43, 0x34);
    outb(0x40, 0x00);
    outb(0x40, 0x00); // 0x10000
    time.advance(ticksNs(100));
    outb(0x43, 0x00);
    time.advance(ticksNs(100));
    outb(0x43, 0x00);
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(0x10000 - 100);
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(0x10000 - 200);
  });

  it('read-back returns status then count; status shows mode, access, null count, OUT', () => {
    const { outb, inb } = setup();
    outb(0x43, 0xb6); // channel 2, LSB/MSB, mode 3
    outb(0x43, 0xc8); // read-back count+status of channel 2
    expect(inb(0x42)).toBe(0x80 | 0x40 | 0x30 | 0x06);
    outb(0x42, 0x34);
    outb(0x42, 0x12);
    outb(0x43, 0xe8); // status only
    expect(inb(0x42)).toBe(0x80 | 0x30 | 0x06);
  });

  it('mode 3 counts down by two and outputs a square wave', () => {
    const { time, pit, outb, inb } = setup();
    outb(0x43, 0x36);
    outb(0x40, 100);
    outb(0x40, 0);
    time.advance(ticksNs(10));
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(80);
    expect(pit.getOut(0)).toBe(true);
    time.advance(ticksNs(45));
    expect(pit.getOut(0)).toBe(false);
  });

  it('LSB-only and MSB-only access modes; modes 6/7 alias 2/3', () => {
    const { outb, inb } = setup();
    outb(0x43, 0x1c); // channel 0, LSB only, mode 6 -> 2
    outb(0x40, 0x80);
    expect(inb(0x40)).toBe(0x80);
    outb(0x43, 0xe2); // read-back status of channel 0
    expect(inb(0x40) & 0x0e).toBe(0x04);
    outb(0x43, 0x20); // channel 0, MSB only, mode 0
    outb(0x40, 0x12);
    expect(inb(0x40)).toBe(0x12);
  });

  it('BCD counting: count decoded from BCD, reads BCD-encoded', () => {
    const { time, outb, inb } = setup();
    outb(0x43, 0x31); // mode 0, BCD
    outb(0x40, 0x00);
    outb(0x40, 0x10); // 1000 decimal
    time.advance(ticksNs(1));
    expect(inb(0x40) | (inb(0x40) << 8)).toBe(0x0999);
  });

  it('hostile accesses: control port reads 0, wide accesses split, odd sizes ignored', () => {
    const { pit } = setup();
    expect(pit.read(3, 1)).toBe(0);
    expect(pit.read(3, 2)).toBe(0xff00);
    for (const [off, size] of [[4, 1], [-1, 1], [0, 3], [NaN, 1], [2, 8]] as const) {
      expect(() => pit.write(off, size, 0xffffffff)).not.toThrow();
      expect(() => pit.read(off, size)).not.toThrow();
    }
    for (let v = 0; v < 256; v++) expect(() => pit.write(3, 1, v)).not.toThrow();
    for (let v = 0; v < 256; v++) expect(() => pit.write(v % 3, 1, v)).not.toThrow();
    expect(() => pit.setGate(7, true)).not.toThrow();
    expect(pit.getOut(9)).toBe(false);
  });
});
