// Decodes one VM's statistics stream (core/stats/stream.ts) into a flat model the views
// read: counters and per-second rates by provenance key, an index of interrupt rows
// ("pci.irq-lab0.v5.*" → one row object updated in place), the aggregates the dashboard
// charts (interrupts/s in total and per device, exits/s per vCPU, Xen upcalls/s), their
// rolling series, a short rate history per row for sparklines, and an optional baseline
// ("reset", as kvm_stat's r key) to count from. Deltas carry absolute values, so a message that is older than what the
// model holds is dropped instead of applied: that is what makes a mid-stream join safe.
// Plain data, no Vue: the Pinia store wraps it (markRaw) and bumps a version counter.
// A statsSnapshot() reply of a 2048-vector VM holds ~20k keys (tens of ms to apply), so the
// join can apply it a slice at a time (loadSnapshot) instead of in one long task.
import type { MachineStats } from '../../../core/stats/machine-stats.js';
import type { StatsMessage } from '../../../core/stats/stream.js';
import { SeriesBuffer } from './uplot-series.js';

/** Counters of one interrupt source, as core/stats/stream.ts flattens them. */
export const IRQ_COUNTERS = ['total', 'coalesced', 'firedWhileMasked', 'deliveredAfterUnmask', 'injected'] as const;
export type IrqCounter = (typeof IRQ_COUNTERS)[number];

const IRQ_KEY = /^pci\.([^.]+)\.([^.]+)\.(total|coalesced|firedWhileMasked|deliveredAfterUnmask|injected)$/;
const VCPU_EXITS_KEY = /^vcpu(\d+)\.exits$/;
const XEN_UPCALLS_KEY = /^xen\.vcpu(\d+)\.upcalls$/;
const MSIX_LABEL = /^v(\d+)$/;
/** A device's own count of the interrupts it raised (irq-lab: "pci.irq-lab0.fired"), all paths. */
const DEVICE_RAISED_KEY = /^pci\.([^.]+)\.fired$/;
/** irq-lab's fire→ACK latency histogram: "pci.irq-lab0.latencyBuckets.3". */
const LATENCY_BUCKET_KEY = /^pci\.([^.]+)\.latencyBuckets\.(\d+)$/;
/** Bucket indexes above this are not a histogram we draw (guards a hostile key). */
const MAX_LATENCY_BUCKETS = 4096;
export const deviceRaiseKey = (device: string) => `pci.${device}.fired`;

/** Device and total interrupt rates are averaged over this window (kvm_stat's CurAvg/s). */
export const RATE_WINDOW_MS = 1000;

/** Series names of the charts (the CSV export uses them as column names too). */
export const SERIES_TOTAL = 'interrupts/s';
export const SERIES_XEN_UPCALLS = 'xen upcalls/s';
export const seriesDevice = (device: string) => `${device} interrupts/s`;
export const seriesVcpu = (id: number) => `vcpu${id} exits/s`;

export interface IrqRow {
  device: string;
  /** "v5" (MSI-X vector 5), "msi0", "pin0", ... */
  label: string;
  /** MSI-X table index for "vN" rows, else null. */
  msixIndex: number | null;
  total: number;
  coalesced: number;
  firedWhileMasked: number;
  deliveredAfterUnmask: number;
  injected: number;
  /** Interrupts per second (rate of `total`) over the last delta. */
  rate: number;
  /** From the last full snapshot (deltas carry counters only). */
  path: string;
  gsi: number | null;
  /** Rates of the last SPARK_POINTS messages, a ring; StatsModel.spark() reads it in order. */
  readonly spark: Float32Array;
}

/** Rate samples kept per interrupt row for its sparkline (10 Hz: the last 6 s). */
export const SPARK_POINTS = 60;

/** Keys applied between two looks at the clock while a snapshot loads in slices. */
const KEYS_PER_CHECK = 512;

/** A statsSnapshot() reply being applied (StatsModel.loadSnapshot). */
export interface SnapshotLoad {
  /** Apply keys until `deadline` (performance.now() ms) has passed; true once all is applied. */
  step(deadline: number): boolean;
}

export const irqKey = (device: string, label: string, counter: IrqCounter = 'total') => `pci.${device}.${label}.${counter}`;
export const msixLabel = (index: number) => `v${index}`;

export class StatsModel {
  readonly counters = new Map<string, number>();
  readonly rates = new Map<string, number>();
  /** Interrupt rows by "device.label". */
  readonly irqs = new Map<string, IrqRow>();
  readonly vcpuIds = new Set<number>();
  readonly series: SeriesBuffer;
  /** Last full sample (device list, vCPU states, irqchip); counters move on through deltas. */
  stats: MachineStats | null = null;
  /** Time (ms since the epoch) of the newest applied message; 0 before the first. */
  t = 0;
  seq = -1;
  /** Messages applied (also the write position of the sparkline rings) and dropped as stale. */
  applied = 0;
  stale = 0;
  // Aggregates of the newest message; device and total rates are averages over RATE_WINDOW_MS.
  totalRate = 0;
  totalCount = 0;
  readonly deviceRates = new Map<string, number>();
  xenUpcallRate: number | null = null;

  /** Counter values at the user's last "reset" (kvm_stat's r): views show counts since then. */
  baseline: ReadonlyMap<string, number> | null = null;

  private readonly nonzeroRates = new Set<string>();
  private readonly xenUpcallKeys = new Set<string>();
  private readonly raiseDevices = new Set<string>();
  /** Latency bucket keys by device and bucket index, so a histogram does not scan every counter. */
  private readonly latencyKeys = new Map<string, Map<number, string>>();
  /** Per-device counts of the last RATE_WINDOW_MS of messages, oldest first. */
  private readonly history: { t: number; counts: Map<string, number>; total: number }[] = [];
  /** Counter key → the interrupt row field it feeds (null: not an interrupt counter); parsed once per key. */
  private readonly keyInfo = new Map<string, { row: IrqRow; field: IrqCounter } | null>();

  constructor(windowSeconds?: number) {
    this.series = new SeriesBuffer(windowSeconds);
  }

  /** Apply a stream message; returns false when it was older than the model (dropped). */
  apply(msg: StatsMessage): boolean {
    const load = this.begin(msg);
    load?.step(Infinity);
    return load !== null;
  }

  /**
   * apply() in slices: the caller runs step() until it returns true, yielding to the page in
   * between, and starts no other message meanwhile (until the last step the model holds part
   * of the message: a frame drawn in between may show some rows one tick ahead). Null when
   * the message is older than the model (dropped).
   */
  begin(msg: StatsMessage): SnapshotLoad | null {
    if (msg.t <= this.t) {
      this.stale++;
      return null;
    }
    if (msg.kind === 'snapshot') return this.loadSnapshot(msg.stats, msg.counters, {}, msg.seq);
    const changes = msg.changes;
    for (const k of this.nonzeroRates) if (!Object.hasOwn(changes, k)) this.setRate(k, 0);
    const keys = Object.keys(changes);
    let i = 0;
    return this.sliced(
      () => {
        for (const stop = Math.min(i + KEYS_PER_CHECK, keys.length); i < stop; i++) {
          const c = changes[keys[i]!]!;
          this.setCounter(keys[i]!, c.value);
          this.setRate(keys[i]!, c.rate);
        }
        return i === keys.length;
      },
      msg.t,
      msg.seq,
    );
  }

  /** The statsSnapshot() reply: a join point in the middle of the stream. */
  applySnapshot(stats: MachineStats, counters: Record<string, number>, rates: Record<string, number>): boolean {
    const load = this.loadSnapshot(stats, counters, rates);
    load?.step(Infinity);
    return load !== null;
  }

  /** applySnapshot() in slices, as begin() does for stream messages. */
  loadSnapshot(stats: MachineStats, counters: Record<string, number>, rates: Record<string, number>, seq = this.seq): SnapshotLoad | null {
    if (stats.t <= this.t) {
      this.stale++;
      return null;
    }
    this.reset(stats);
    const counterKeys = Object.keys(counters);
    const rateKeys = Object.keys(rates);
    let c = 0;
    let r = 0;
    return this.sliced(
      () => {
        if (c < counterKeys.length) {
          for (const stop = Math.min(c + KEYS_PER_CHECK, counterKeys.length); c < stop; c++) this.setCounter(counterKeys[c]!, counters[counterKeys[c]!]!);
        } else {
          for (const stop = Math.min(r + KEYS_PER_CHECK, rateKeys.length); r < stop; r++) this.setRate(rateKeys[r]!, rates[rateKeys[r]!]!);
        }
        return c === counterKeys.length && r === rateKeys.length;
      },
      stats.t,
      seq,
    );
  }

  /** A SnapshotLoad running `chunk` (a bounded amount of work; true once all is done), then closing the tick at `t`. */
  private sliced(chunk: () => boolean, t: number, seq: number): SnapshotLoad {
    let done = false;
    return {
      step: (deadline) => {
        while (!done) {
          if (chunk()) {
            this.t = t;
            this.seq = seq;
            this.finishTick();
            done = true;
          } else if (performance.now() >= deadline) return false;
        }
        return true;
      },
    };
  }

  counter(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  /** Start counting from now (the stream's counters are untouched); null goes back to totals. */
  setBaseline(on: boolean): void {
    this.baseline = on ? new Map(this.counters) : null;
  }

  /** `value` of counter `key` minus its baseline (never negative: a restarted device starts over). */
  sinceBaseline(key: string, value: number): number {
    const b = this.baseline?.get(key);
    return b === undefined || b > value ? value : value - b;
  }

  /** An interrupt row's counter since the baseline. */
  irqCount(r: IrqRow, field: IrqCounter): number {
    return this.baseline ? this.sinceBaseline(irqKey(r.device, r.label, field), r[field]) : r[field];
  }

  rate(key: string): number {
    return this.rates.get(key) ?? 0;
  }

  irq(device: string, label: string): IrqRow | undefined {
    return this.irqs.get(`${device}.${label}`);
  }

  /** SVG polyline points ("x,y ...", oldest first) of a row's recent rates in a w×h box. */
  spark(r: IrqRow, w = SPARK_POINTS, h = 16): string {
    let max = 0;
    for (const v of r.spark) if (v > max) max = v;
    const n = SPARK_POINTS;
    const scale = max > 0 ? (h - 1) / max : 0;
    let out = '';
    for (let i = 0; i < n; i++) {
      const v = r.spark[(this.applied + i) % n]!;
      // One decimal is plenty for a 16-pixel line, and far cheaper than toFixed().
      out += `${i ? ' ' : ''}${Math.round((i * w * 10) / (n - 1)) / 10},${Math.round((h - v * scale - 0.5) * 10) / 10}`;
    }
    return out;
  }

  /** Non-zero latency histogram buckets of a device ("pci.<dev>.latencyBuckets.<i>"), dense. */
  latencyBuckets(device: string): number[] {
    const out: number[] = [];
    for (const [i, k] of this.latencyKeys.get(device) ?? []) out[i] = this.counter(k);
    for (let i = 0; i < out.length; i++) out[i] ??= 0;
    return out;
  }

  /** Names of the PCI devices: from the snapshot, plus any that only appeared in deltas. */
  pciDevices(): string[] {
    const names = new Set((this.stats?.pci ?? []).map((d) => d.name));
    for (const r of this.irqs.values()) names.add(r.device);
    return [...names];
  }

  /** Start over from a full sample (a join point, or a restarted stream): its rows, no counters yet. */
  private reset(stats: MachineStats): void {
    this.counters.clear();
    this.rates.clear();
    this.nonzeroRates.clear();
    this.irqs.clear();
    this.vcpuIds.clear();
    this.xenUpcallKeys.clear();
    this.raiseDevices.clear();
    this.latencyKeys.clear();
    this.history.length = 0;
    this.keyInfo.clear();
    // A new stream (VM host restarted) starts its counters over: the baseline no longer applies.
    this.baseline = null;
    this.stats = stats;
    for (const d of stats.pci ?? []) {
      for (const r of d.irqs) {
        const row = this.row(d.name, r.label);
        row.path = r.path;
        row.gsi = r.gsi;
      }
    }
    for (const v of stats.vcpus) this.vcpuIds.add(v.id);
  }

  private row(device: string, label: string): IrqRow {
    const id = `${device}.${label}`;
    let r = this.irqs.get(id);
    if (!r) {
      const m = MSIX_LABEL.exec(label);
      r = {
        device, label, msixIndex: m ? Number(m[1]) : null, total: 0, coalesced: 0, firedWhileMasked: 0,
        deliveredAfterUnmask: 0, injected: 0, rate: 0, path: '', gsi: null, spark: new Float32Array(SPARK_POINTS),
      };
      this.irqs.set(id, r);
    }
    return r;
  }

  /** First sight of a key: index it (interrupt row field, vCPU id, Xen upcall counter). */
  private info(key: string): { row: IrqRow; field: IrqCounter } | null {
    let i = this.keyInfo.get(key);
    if (i !== undefined) return i;
    i = null;
    if (key.startsWith('pci.')) {
      const m = IRQ_KEY.exec(key);
      if (m) i = { row: this.row(m[1]!, m[2]!), field: m[3] as IrqCounter };
      else {
        const d = DEVICE_RAISED_KEY.exec(key);
        if (d) this.raiseDevices.add(d[1]!);
        else this.indexLatencyBucket(key);
      }
    } else if (key.startsWith('vcpu')) {
      const m = VCPU_EXITS_KEY.exec(key);
      if (m) this.vcpuIds.add(Number(m[1]));
    } else if (key.startsWith('xen.vcpu') && XEN_UPCALLS_KEY.test(key)) {
      this.xenUpcallKeys.add(key);
    }
    this.keyInfo.set(key, i);
    return i;
  }

  private indexLatencyBucket(key: string): void {
    const m = LATENCY_BUCKET_KEY.exec(key);
    if (!m || Number(m[2]) >= MAX_LATENCY_BUCKETS) return;
    let byIndex = this.latencyKeys.get(m[1]!);
    if (!byIndex) this.latencyKeys.set(m[1]!, (byIndex = new Map()));
    byIndex.set(Number(m[2]), key);
  }

  private setCounter(key: string, value: number): void {
    this.counters.set(key, value);
    const i = this.info(key);
    if (i) i.row[i.field] = value;
  }

  private setRate(key: string, rate: number): void {
    if (rate === 0) {
      if (this.nonzeroRates.delete(key)) this.rates.delete(key);
    } else {
      this.rates.set(key, rate);
      this.nonzeroRates.add(key);
    }
    const i = this.info(key);
    if (i && i.field === 'total') i.row.rate = rate;
  }

  /** Aggregates and one point of every charted series. */
  private finishTick(): void {
    this.deviceRates.clear();
    const deviceCounts = new Map<string, number>();
    const slot = this.applied % SPARK_POINTS;
    for (const r of this.irqs.values()) {
      r.spark[slot] = r.rate;
      this.deviceRates.set(r.device, (this.deviceRates.get(r.device) ?? 0) + r.rate);
      deviceCounts.set(r.device, (deviceCounts.get(r.device) ?? 0) + r.total);
    }
    // A device's own raise counter (irq-lab's "fired") covers every delivery path; its
    // interrupt rows can trail it or lack a path, so the larger of the two counts.
    let count = 0;
    for (const d of new Set([...deviceCounts.keys(), ...this.raiseDevices])) {
      const c = Math.max(deviceCounts.get(d) ?? 0, this.counter(deviceRaiseKey(d)));
      deviceCounts.set(d, c);
      count += c;
    }
    this.totalCount = count;
    // Device processes report their counts in steps (a refresh every few ticks), so a rate
    // over one tick jumps between 0 and several times the truth: average over RATE_WINDOW_MS.
    this.history.push({ t: this.t, counts: deviceCounts, total: count });
    while (this.history.length > 2 && this.history[1]!.t <= this.t - RATE_WINDOW_MS) this.history.shift();
    const old = this.history[0]!;
    const span = this.t - old.t;
    let total = 0;
    for (const [d, c] of deviceCounts) {
      const before = old.counts.get(d);
      const rate = span > 0 && before !== undefined && c >= before ? ((c - before) * 1000) / span : Math.max(this.deviceRates.get(d) ?? 0, this.rate(deviceRaiseKey(d)));
      this.deviceRates.set(d, rate);
      total += rate;
    }
    this.totalRate = total;
    let xen: number | null = null;
    for (const k of this.xenUpcallKeys) xen = (xen ?? 0) + this.rate(k);
    this.xenUpcallRate = xen;
    const point = new Map<string, number>([[SERIES_TOTAL, total]]);
    for (const [d, r] of this.deviceRates) point.set(seriesDevice(d), r);
    for (const id of [...this.vcpuIds].sort((a, b) => a - b)) point.set(seriesVcpu(id), this.rate(`vcpu${id}.exits`));
    if (xen !== null) point.set(SERIES_XEN_UPCALLS, xen);
    this.series.push(this.t / 1000, point);
    this.applied++;
  }
}
