// Rolling time series for the dashboard charts and the CSV export: one shared time column
// (seconds, as uPlot's time scale wants) and named value columns that all have the same
// length. A column that appears later is back-filled with nulls (uPlot draws a gap), and
// points older than the window are dropped from the front on every push. The arrays are
// handed to uPlot as they are (setData after each change), so nothing is copied per tick.

export const DEFAULT_WINDOW_SECONDS = 120;
/** Upper bound of kept points whatever the message rate (10 Hz × 120 s = 1200 normally). */
export const MAX_POINTS = 4096;

export class SeriesBuffer {
  readonly xs: number[] = [];
  private readonly cols = new Map<string, (number | null)[]>();

  constructor(readonly windowSeconds = DEFAULT_WINDOW_SECONDS) {}

  get length(): number {
    return this.xs.length;
  }

  names(): string[] {
    return [...this.cols.keys()];
  }

  column(name: string): readonly (number | null)[] | undefined {
    return this.cols.get(name);
  }

  /** Append one point at `tSeconds`; columns absent from `values` get null at this point. */
  push(tSeconds: number, values: ReadonlyMap<string, number>): void {
    const last = this.xs.length ? this.xs[this.xs.length - 1]! : -Infinity;
    // A restarted stream can step back in time; the chart's x axis must stay sorted.
    if (tSeconds <= last) this.clear();
    const n = this.xs.length;
    this.xs.push(tSeconds);
    for (const [name, v] of values) {
      if (!this.cols.has(name)) this.cols.set(name, new Array<number | null>(n).fill(null));
    }
    for (const [name, col] of this.cols) col.push(values.get(name) ?? null);
    this.trim(tSeconds);
  }

  /** [xs, ...columns] in the order asked for, for uPlot.setData (missing names: all null). */
  aligned(names: readonly string[]): [number[], ...(number | null)[][]] {
    return [this.xs, ...names.map((n) => this.cols.get(n) ?? new Array<number | null>(this.xs.length).fill(null))];
  }

  clear(): void {
    this.xs.length = 0;
    this.cols.clear();
  }

  private trim(now: number): void {
    let drop = 0;
    const from = now - this.windowSeconds;
    while (drop < this.xs.length && this.xs[drop]! < from) drop++;
    drop = Math.max(drop, this.xs.length - MAX_POINTS);
    if (drop <= 0) return;
    this.xs.splice(0, drop);
    for (const [name, col] of this.cols) {
      col.splice(0, drop);
      // A device that went away leaves only nulls behind: forget the column.
      if (col.every((v) => v === null)) this.cols.delete(name);
    }
  }
}
