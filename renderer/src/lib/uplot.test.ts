import { describe, expect, it } from 'vitest';
import { rateChartOptions, shortNumber } from './uplot.js';

describe('uplot setup', () => {
  it('shortens axis numbers', () => {
    expect(shortNumber(0)).toBe('0');
    expect(shortNumber(12.345)).toBe('12.3');
    expect(shortNumber(1234)).toBe('1.2k');
    expect(shortNumber(100_000)).toBe('100k');
    expect(shortNumber(2_500_000)).toBe('2.5M');
  });

  it('makes one line per series on a time axis', () => {
    const o = rateChartOptions({ title: 'Rates', names: ['a', 'b'], width: 400, height: 200 });
    expect(o.series.map((s) => s.label)).toEqual([undefined, 'a', 'b']);
    expect(o.scales!.x!.time).toBe(true);
    expect(o.series[1]!.stroke).not.toBe(o.series[2]!.stroke);
  });
});
