// uPlot set up for the dashboard's rate charts: a time x axis, one line per series, numbers
// shortened on the y axis (12k, 1.2M), our dark theme. The chart keeps the series' arrays
// (lib/uplot-series.ts) and is refreshed with setData; changing the set of series means a
// new chart, so callers key charts by their series names.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#5b8def', '#6cc88a', '#f0b54a', '#ef6b6b', '#b48ef0', '#4fc4cf', '#e58ac8', '#c8c86c', '#8aa0c8', '#f08a5b'];
const AXIS = '#9aa0ab';
const GRID = '#2c313a';

/** 1234 → "1.2k", 2500000 → "2.5M"; small values keep one decimal. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(1)}`;
}

export interface RateChartSpec {
  title: string;
  names: readonly string[];
  width: number;
  height: number;
}

export function rateChartOptions(spec: RateChartSpec): uPlot.Options {
  const axis = { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
  return {
    title: spec.title,
    width: spec.width,
    height: spec.height,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    series: [
      {},
      ...spec.names.map((label, i) => ({
        label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        points: { show: false },
        value: (_u: uPlot, v: number | null) => (v === null ? '—' : shortNumber(v)),
      })),
    ],
    axes: [axis, { ...axis, size: 56, values: (_u, splits) => splits.map(shortNumber) }],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
}

export interface RateChart {
  setData(data: uPlot.AlignedData): void;
  setSize(width: number, height: number): void;
  destroy(): void;
}

export function createRateChart(el: HTMLElement, spec: RateChartSpec, data: uPlot.AlignedData): RateChart {
  const u = new uPlot(rateChartOptions(spec), data, el);
  return {
    setData: (d) => u.setData(d),
    setSize: (width, height) => u.setSize({ width, height }),
    destroy: () => u.destroy(),
  };
}
