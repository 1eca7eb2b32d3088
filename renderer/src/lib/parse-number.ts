// Text from a number field to the value the profile holds: decimal or 0x-hex becomes a
// number, empty means "not set", anything else stays text for the schema to reject by name.
export function parseNumber(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t.slice(2), 16);
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t;
}

export function showNumber(v: unknown, hex = false): string {
  if (typeof v === 'number' && hex && Number.isInteger(v) && v >= 0) return `0x${v.toString(16)}`;
  return v === undefined || v === null ? '' : String(v);
}
