// IRQ-line test device: per-line levels, wide-access splitting and unwired lines.
import { describe, expect, it } from 'vitest';
import { IrqLineTestdev } from './irq-line-testdev.js';
import { RecordingIrqLine } from './test-helpers.js';

function setup() {
  const lines = Array.from({ length: 16 }, () => new RecordingIrqLine());
  return { lines, dev: new IrqLineTestdev({ lines }) };
}

describe('IrqLineTestdev', () => {
  it('drives line n to the written level and reads it back', () => {
    const { lines, dev } = setup();
    dev.write(4, 1, 1);
    dev.write(4, 1, 0x80);
    dev.write(4, 1, 0);
    expect(lines[4]!.history).toEqual([true, true, false]);
    expect(dev.read(4, 1)).toBe(0);
    dev.write(11, 1, 7);
    expect(dev.read(11, 1)).toBe(1);
    expect(dev.level(11)).toBe(true);
    expect(dev.stats.raises).toBe(2);
    expect(dev.stats.lowers).toBe(1);
  });

  it('splits wide writes into per-line byte cycles and ignores bytes past line 15', () => {
    const { lines, dev } = setup();
    dev.write(2, 2, 0x0100); // line 2 <- 0, line 3 <- 1
    expect(lines[2]!.history).toEqual([false]);
    expect(lines[3]!.history).toEqual([true]);
    dev.write(14, 4, 0x01010101); // lines 14, 15; bytes 16, 17 hit nothing
    expect(lines[14]!.level && lines[15]!.level).toBe(true);
    expect(dev.read(14, 4)).toBe(0xffff0101);
  });

  it('accepts unwired lines and hostile accesses without throwing', () => {
    const dev = new IrqLineTestdev({ lines: [] });
    dev.write(0, 1, 1);
    expect(dev.stats.unwiredWrites).toBe(1);
    expect(dev.read(0, 1)).toBe(1);
    for (const [off, size] of [[-1, 1], [16, 1], [0, 3], [NaN, 1], [1e9, 4]] as const) {
      expect(() => dev.write(off, size, 1)).not.toThrow();
      expect(() => dev.read(off, size)).not.toThrow();
    }
    expect(dev.read(16, 1)).toBe(0xff);
    expect(dev.level(99)).toBe(false);
  });
});
