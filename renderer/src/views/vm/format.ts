// Number and register formatting for the interrupt tables.

export const hex = (n: number, digits = 0): string => '0x' + (n >>> 0).toString(16).padStart(digits, '0');

/** 64-bit MSI address from its halves: "0xfee01000" or "0x00000001_fee01000". */
export const hexAddress = (lo: number, hi: number): string =>
  hi ? `0x${(hi >>> 0).toString(16).padStart(8, '0')}_${(lo >>> 0).toString(16).padStart(8, '0')}` : hex(lo, 8);

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const rateFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** Counter with thousands separators. */
export const count = (n: number): string => intFmt.format(n);

/** Per-second rate: "0", "12.5", "10,240". */
export const rate = (n: number): string => (n === 0 ? '0' : rateFmt.format(n));

export const percent = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '—');

export type SortDir = 'asc' | 'desc';

/** Compare for Array.sort by a numeric or string key, ties broken by `tie`. */
export function compareBy<T>(key: (x: T) => number | string, dir: SortDir, tie?: (x: T) => number): (a: T, b: T) => number {
  const s = dir === 'asc' ? 1 : -1;
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka < kb) return -s;
    if (ka > kb) return s;
    return tie ? tie(a) - tie(b) : 0;
  };
}

/**
 * Index filter text: "5", "10-20", "0,4,100-110" (blank: everything). Returns a predicate,
 * or null when the text is not a valid filter (the view then says so).
 */
export function indexFilter(text: string): ((i: number) => boolean) | null {
  const t = text.trim();
  if (!t) return () => true;
  const parts: [number, number][] = [];
  for (const p of t.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(p);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    parts.push([Math.min(a, b), Math.max(a, b)]);
  }
  return (i) => parts.some(([a, b]) => i >= a && i <= b);
}
