import { describe, expect, it } from 'vitest';
import { MAX_POINTS, SeriesBuffer } from './uplot-series.js';

const pt = (o: Record<string, number>) => new Map(Object.entries(o));

describe('SeriesBuffer', () => {
  it('keeps columns aligned, back-filling a late column with nulls', () => {
    const s = new SeriesBuffer(120);
    s.push(1, pt({ a: 1 }));
    s.push(2, pt({ a: 2, b: 20 }));
    s.push(3, pt({ b: 30 }));
    expect(s.aligned(['a', 'b', 'missing'])).toEqual([[1, 2, 3], [1, 2, null], [null, 20, 30], [null, null, null]]);
  });

  it('trims points older than the window and forgets columns left with only nulls', () => {
    const s = new SeriesBuffer(10);
    s.push(0, pt({ gone: 1, kept: 1 }));
    for (let t = 1; t <= 20; t++) s.push(t, pt({ kept: t }));
    expect(s.xs[0]).toBe(10);
    expect(s.xs.at(-1)).toBe(20);
    expect(s.column('kept')!.length).toBe(s.length);
    expect(s.names()).toEqual(['kept']);
  });

  it('caps the number of points and restarts when time steps back', () => {
    const s = new SeriesBuffer(1e9);
    for (let t = 0; t < MAX_POINTS + 10; t++) s.push(t, pt({ a: t }));
    expect(s.length).toBe(MAX_POINTS);
    expect(s.xs[0]).toBe(10);
    s.push(5, pt({ a: 1 }));
    expect(s.xs).toEqual([5]);
  });
});
