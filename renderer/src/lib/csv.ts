// CSV export of the live statistics (RFC 4180): the current counters with their rates, and
// the dashboard's time series. Fields are quoted when they hold a comma, quote, CR or LF, or
// leading/trailing blanks; text that a spreadsheet would run as a formula (= + - @ tab CR at
// the start) gets a leading apostrophe, because counter keys carry guest-chosen names.
// Numbers are written as they are. The download goes through a Blob and an <a download>.

export type CsvValue = string | number | boolean | null | undefined;

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const s = FORMULA_START.test(v) ? `'${v}` : v;
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Lines end in CRLF as RFC 4180 says; the last line too. */
export function toCsv(header: readonly string[], rows: Iterable<readonly CsvValue[]>): string {
  const out = [header.map(csvField).join(',')];
  for (const r of rows) out.push(r.map(csvField).join(','));
  return out.join('\r\n') + '\r\n';
}

/**
 * key,value,rate_per_s for every counter, sorted by key; with a baseline (the dashboard's
 * reset), a since_reset column too.
 */
export function countersCsv(counters: ReadonlyMap<string, number>, rates: ReadonlyMap<string, number>, baseline?: ReadonlyMap<string, number> | null): string {
  const keys = [...counters.keys()].sort();
  if (!baseline) return toCsv(['key', 'value', 'rate_per_s'], keys.map((k) => [k, counters.get(k)!, rates.get(k) ?? 0]));
  return toCsv(
    ['key', 'value', 'rate_per_s', 'since_reset'],
    keys.map((k) => {
      const v = counters.get(k)!;
      const b = baseline.get(k) ?? 0;
      return [k, v, rates.get(k) ?? 0, b > v ? v : v - b];
    }),
  );
}

/** One row per sample: ISO time, epoch ms, then one column per series (empty where absent). */
export function seriesCsv(xsSeconds: readonly number[], columns: readonly { name: string; values: readonly (number | null)[] }[]): string {
  const header = ['time', 't_ms', ...columns.map((c) => c.name)];
  const rows = xsSeconds.map((x, i) => {
    const ms = Math.round(x * 1000);
    return [new Date(ms).toISOString(), ms, ...columns.map((c) => c.values[i] ?? null)];
  });
  return toCsv(header, rows);
}

/** Offer `text` as a file download (a normal download in browser mode). */
export function downloadCsv(fileName: string, text: string, doc: Document = document): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = doc.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.style.display = 'none';
  doc.body.append(a);
  try {
    a.click();
  } finally {
    a.remove();
    // Revoke after the click has been handled; revoking at once can cancel the download.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** "irqbench-<vm>-counters-20261121T182700Z.csv": safe on every file system. */
export function csvFileName(vmId: string, what: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
  return `irqbench-${safe(vmId)}-${safe(what)}-${stamp}.csv`;
}
