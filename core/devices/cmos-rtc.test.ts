// MC146818 RTC/CMOS: time registers and formats, SET, UIP, PF/UF/AF interrupts on a
// hand-driven clock, firmware memory-size bytes and hostile port accesses.
import { describe, expect, it } from 'vitest';
import { CmosRtc } from './cmos-rtc.js';
import { ManualTime } from './manual-time.js';
import { RecordingIrqLine } from './test-helpers.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const START = Date.UTC(2024, 1, 29, 23, 59, 58); // leap day, 2 s before midnight

function setup(opts: Partial<ConstructorParameters<typeof CmosRtc>[0]> = {}) {
  const time = new ManualTime(1_000_000_000n);
  const irq = new RecordingIrqLine();
  const rtc = new CmosRtc({ clock: time.clock, scheduler: time, irq, startTimeMs: START, ...opts });
  const get = (reg: number) => (rtc.write(0, 1, reg), rtc.read(1, 1));
  const set = (reg: number, v: number) => (rtc.write(0, 1, reg), rtc.write(1, 1, v));
  return { time, irq, rtc, get, set };
}

describe('CmosRtc time registers', () => {
  it('reads BCD 24h time by default and rolls over a leap day', () => {
    const { time, get } = setup();
    expect([get(0), get(2), get(4), get(7), get(8), get(9), get(0x32)]).toEqual([0x58, 0x59, 0x23, 0x29, 0x02, 0x24, 0x20]);
    expect(get(6)).toBe(5); // Thursday (Sunday = 1)
    time.advance(2_000_000_000n);
    expect([get(0), get(2), get(4), get(7), get(8)]).toEqual([0x00, 0x00, 0x00, 0x01, 0x03]);
  });

  it('honours binary and 12-hour modes', () => {
    const { get, set } = setup();
    set(0x0b, 0x04); // binary, 12h
    expect(get(4)).toBe(0x80 | 11); // 11 PM
    expect(get(0)).toBe(58);
    set(0x0b, 0x00); // BCD, 12h
    expect(get(4)).toBe(0x80 | 0x11);
  });

  it('SET freezes the registers; clearing it restarts the clock from them', () => {
    const { time, get, set, rtc } = setup();
    set(0x0b, 0x82); // SET, 24h BCD
    set(0x00, 0x30);
    set(0x02, 0x15);
    set(0x04, 0x08);
    set(0x07, 0x04);
    set(0x08, 0x07);
    set(0x09, 0x99);
    set(0x32, 0x19);
    time.advance(5_000_000_000n);
    expect(get(0)).toBe(0x30); // frozen
    set(0x0b, 0x02);
    time.advance(1_500_000_000n);
    expect([get(0), get(2), get(4), get(7), get(8), get(9), get(0x32)]).toEqual([0x31, 0x15, 0x08, 0x04, 0x07, 0x99, 0x19]);
    expect(rtc.guestTimeNs() / 1_000_000n).toBe(BigInt(Date.UTC(1999, 6, 4, 8, 15, 31, 500)));
  });

  it('a write to a time register while running rebases the clock', () => {
    const { get, set } = setup();
    set(0x02, 0x10);
    expect(get(2)).toBe(0x10);
    expect(get(4)).toBe(0x23);
  });

  it('UIP is set only in the 244 us before an update', () => {
    const { time, get } = setup();
    expect(get(0x0a) & 0x80).toBe(0);
    time.advance(1_000_000_000n - 200_000n);
    expect(get(0x0a)).toBe(0x80 | 0x26);
    time.advance(300_000n);
    expect(get(0x0a)).toBe(0x26);
  });

  it('register D reads VRT, C and D ignore writes, UIP is read-only', () => {
    const { get, set, rtc } = setup();
    set(0x0d, 0x00);
    set(0x0c, 0xff);
    expect(get(0x0d)).toBe(0x80);
    expect(get(0x0c) & 0x80).toBe(0);
    set(0x0a, 0xa6);
    expect(get(0x0a) & 0x7f).toBe(0x26);
    expect(rtc.stats.ignoredWrites).toBe(2);
  });
});

describe('CmosRtc interrupts', () => {
  it('periodic interrupt: IRQ high until C is read, then the next tick raises it again', () => {
    const { time, irq, get, set, rtc } = setup();
    set(0x0b, 0x42); // PIE, 24h
    expect(irq.level).toBe(false);
    time.advance(977_000n); // 1024 Hz -> 976.5625 us
    expect(irq.level).toBe(true);
    time.advance(2_000_000n); // unread: stays high, no new edge
    expect(irq.risingEdges).toBe(1);
    expect(get(0x0c)).toBe(0x80 | 0x40);
    expect(irq.level).toBe(false);
    expect(get(0x0c)).toBe(0);
    time.advance(1_000_000n);
    expect(irq.level).toBe(true);
    expect(rtc.stats.periodicTicks).toBeGreaterThanOrEqual(3);
  });

  it('RS=1 and RS=2 alias to 256 Hz and 128 Hz', () => {
    const { time, irq, set } = setup();
    set(0x0a, 0x21);
    set(0x0b, 0x42);
    time.advance(3_800_000n);
    expect(irq.level).toBe(false);
    time.advance(200_000n); // 3.90625 ms
    expect(irq.level).toBe(true);
  });

  it('update-ended interrupt each second; setting SET clears UIE', () => {
    const { time, irq, get, set } = setup();
    set(0x0b, 0x12); // UIE
    time.advance(999_000_000n);
    expect(irq.level).toBe(false);
    time.advance(1_000_000n); // the start time is on a whole second
    expect(irq.level).toBe(true);
    expect(get(0x0c) & 0xb0).toBe(0x80 | 0x10); // PF also latched: the rate runs regardless of PIE
    set(0x0b, 0x92);
    expect(get(0x0b)).toBe(0x82);
  });

  it('alarm interrupt with don\'t-care hours and minutes', () => {
    const { time, irq, get, set } = setup();
    set(0x01, 0x05); // at second 05
    set(0x03, 0xc0);
    set(0x05, 0xff);
    set(0x0b, 0x22); // AIE
    time.advance(6_500_000_000n); // 00:00:04.5
    expect(irq.level).toBe(false);
    time.advance(1_000_000_000n); // through 00:00:05
    expect(irq.level).toBe(true);
    expect(get(0x0c) & 0xa0).toBe(0xa0);
  });

  it('flags latch without interrupts enabled and IRQ stays low', () => {
    const { time, irq, get } = setup();
    time.advance(1_500_000_000n);
    expect(get(0x0c)).toBe(0x40 | 0x10); // PF (1024 Hz default rate) and UF, no IRQF
    expect(irq.history).toEqual([]);
  });

  it('works without a scheduler (flags only)', () => {
    const time = new ManualTime();
    const rtc = new CmosRtc({ clock: time.clock, startTimeMs: START });
    rtc.write(0, 1, 0x0b);
    rtc.write(1, 1, 0x42);
    time.advance(10_000_000n);
    rtc.write(0, 1, 0x0c);
    expect(rtc.read(1, 1)).toBe(0xc0);
  });
});

describe('CmosRtc firmware bytes and port behaviour', () => {
  it('reports memory sizes like QEMU pc_cmos_init', () => {
    const { get } = setup({ ramBelow4GiB: 3 * GiB, ramAbove4GiB: 5 * GiB, cpus: 4 });
    expect(get(0x15) | (get(0x16) << 8)).toBe(640);
    expect(get(0x17) | (get(0x18) << 8)).toBe(0xffff);
    expect(get(0x30) | (get(0x31) << 8)).toBe(0xffff);
    expect(get(0x34) | (get(0x35) << 8)).toBe((3 * GiB - 16 * MiB) / 65536);
    expect(get(0x5b) | (get(0x5c) << 8) | (get(0x5d) << 16)).toBe((5 * GiB) / 65536);
    expect(get(0x5f)).toBe(3);
  });

  it('small RAM: extended memory in KiB, nothing above 16 MiB', () => {
    const { get } = setup({ ramBelow4GiB: 8 * MiB });
    expect(get(0x17) | (get(0x18) << 8)).toBe(7 * 1024);
    expect(get(0x34) | (get(0x35) << 8)).toBe(0);
  });

  it('index bit 7 is the NMI mask and not part of the index; RAM is read/write', () => {
    const { rtc, get } = setup();
    rtc.write(0, 1, 0x80 | 0x40);
    rtc.write(1, 1, 0x5a);
    expect(rtc.nmiDisabled).toBe(true);
    expect(get(0x40)).toBe(0x5a);
    expect(rtc.nmiDisabled).toBe(false);
    expect(rtc.read(0, 1)).toBe(0xff); // index port is write-only
  });

  it('outw to 0x70 writes index then data; hostile accesses never throw', () => {
    const { rtc, get } = setup();
    rtc.write(0, 2, 0x7750); // index 0x50, data 0x77
    expect(get(0x50)).toBe(0x77);
    for (const [off, size] of [[2, 1], [-1, 1], [0, 3], [NaN, 2], [1, 8]] as const) {
      expect(() => rtc.write(off, size, 0xffffffff)).not.toThrow();
      expect(() => rtc.read(off, size)).not.toThrow();
    }
    // garbage BCD time written while running must not throw either
    for (const reg of [0, 2, 4, 7, 8, 9, 0x32]) {
      rtc.write(0, 1, reg);
      expect(() => rtc.write(1, 1, 0xff)).not.toThrow();
    }
    expect(() => get(0)).not.toThrow();
  });
});
