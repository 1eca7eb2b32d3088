import { describe, expect, it } from 'vitest';
import { compareBy, count, hex, hexAddress, indexFilter, percent, rate } from './format.js';

describe('format', () => {
  it('formats registers', () => {
    expect(hex(0x30, 2)).toBe('0x30');
    expect(hex(-1)).toBe('0xffffffff');
    expect(hexAddress(0xfee01000, 0)).toBe('0xfee01000');
    expect(hexAddress(0xfee01000, 1)).toBe('0x00000001_fee01000');
  });

  it('formats counts and rates', () => {
    expect(count(1234567)).toBe('1,234,567');
    expect(rate(0)).toBe('0');
    expect(rate(12.345)).toBe('12.3');
    expect(percent(1, 4)).toBe('25.0%');
    expect(percent(1, 0)).toBe('—');
  });

  it('sorts by key with a tie-breaker', () => {
    const rows = [{ i: 0, n: 2 }, { i: 1, n: 5 }, { i: 2, n: 2 }];
    expect(rows.slice().sort(compareBy((r) => r.n, 'desc', (r) => r.i)).map((r) => r.i)).toEqual([1, 0, 2]);
    expect(rows.slice().sort(compareBy((r) => r.n, 'asc', (r) => r.i)).map((r) => r.i)).toEqual([0, 2, 1]);
  });

  it('parses index filters', () => {
    const f = indexFilter('3, 10-12,20-18')!;
    expect([2, 3, 10, 11, 12, 13, 18, 19, 20, 21].filter(f)).toEqual([3, 10, 11, 12, 18, 19, 20]);
    expect(indexFilter('  ')!(99)).toBe(true);
    expect(indexFilter('a-b')).toBeNull();
  });
});
