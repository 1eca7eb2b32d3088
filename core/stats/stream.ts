// Streaming statistics for the GUI and scripts: a full snapshot first, then at a fixed rate
// (10 Hz by default) only the counters that changed, each with its rate since the previous
// tick. Counters are addressed by provenance paths ("vcpu0.exits", "ioapic.pin4.deliveries",
// "device.uart@0x3f8.txBytes"), so a consumer can keep a flat map and apply deltas.
import type { MachineStats, PciDeviceSample } from './machine-stats.js';

export type StatsMessage =
  | { kind: 'snapshot'; seq: number; t: number; stats: MachineStats; counters: Record<string, number> }
  | { kind: 'delta'; seq: number; t: number; dt: number; changes: Record<string, { value: number; rate: number }> };

/** Flatten the numeric counters of a sample into provenance-path keys. */
export function flattenCounters(s: MachineStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of s.vcpus) {
    out[`vcpu${v.id}.exits`] = v.exits;
    out[`vcpu${v.id}.localIo`] = v.localIo;
    for (const [k, n] of Object.entries(v.kvm)) out[`vcpu${v.id}.kvm.${k}`] = n;
  }
  for (const p of s.ioapic?.pins ?? []) {
    out[`ioapic.pin${p.pin}.assertions`] = p.assertions;
    out[`ioapic.pin${p.pin}.deliveries`] = p.deliveries;
    out[`ioapic.pin${p.pin}.coalesced`] = p.coalesced;
    out[`ioapic.pin${p.pin}.maskedWhileAsserted`] = p.maskedWhileAsserted;
    out[`ioapic.pin${p.pin}.eois`] = p.eois;
  }
  for (const d of s.devices) for (const [k, n] of Object.entries(d.stats)) out[`device.${d.name}.${k}`] = n;
  for (const d of s.pci ?? []) flattenPci(d, out);
  for (const [bus, st] of Object.entries(s.buses)) for (const [k, n] of Object.entries(st)) out[`bus.${bus}.${k}`] = n;
  for (const [k, n] of Object.entries(s.routing ?? {})) out[`routing.${k}`] = n;
  if (s.xen) flattenXen(s.xen, out);
  return out;
}

/** "xen.hypercall.sched_op", "xen.error.vcpu_op EBUSY", "xen.fastPath", "xen.vcpu1.upcalls", event channels. */
function flattenXen(x: NonNullable<MachineStats['xen']>, out: Record<string, number>): void {
  for (const [k, n] of Object.entries(x.calls)) out[`xen.hypercall.${k}`] = n;
  for (const [k, n] of Object.entries(x.errors)) out[`xen.error.${k}`] = n;
  for (const k of ['fastPath', 'forwarded', 'cplDenied', 'hypercallPages', 'msrFaults', 'timersFired'] as const) out[`xen.${k}`] = x[k];
  x.upcalls.forEach((n, v) => (out[`xen.vcpu${v}.upcalls`] = n));
  // Event channels: "xen.evtchn.vcpu0.upcalls", "xen.evtchn.op.send.EINVAL", "xen.evtchn.port5.sends".
  const e = x.evtchn;
  e.upcallsPerVcpu.forEach((n, v) => (out[`xen.evtchn.vcpu${v}.upcalls`] = n));
  for (const [op, r] of Object.entries(e.ops)) for (const [k, n] of Object.entries(r)) out[`xen.evtchn.op.${op}.${k}`] = n;
  for (const p of e.ports) for (const k of EVTCHN_PORT_COUNTERS) out[`xen.evtchn.port${p.port}.${k}`] = p[k];
  // PIRQs: "xen.pirq.pirq16.count", "xen.pirq.gsi.raised", "xen.pirq.physdev.error.map_pirq EINVAL".
  const q = x.pirq;
  if (!q) return;
  for (const r of q.pirqs) {
    out[`xen.pirq.pirq${r.pirq}.count`] = r.count;
    out[`xen.pirq.pirq${r.pirq}.dropped`] = r.dropped;
  }
  for (const [k, n] of Object.entries(q.gsi)) out[`xen.pirq.gsi.${k}`] = n;
  for (const [k, n] of Object.entries(q.msi)) out[`xen.pirq.msi.${k}`] = n;
  for (const [k, n] of Object.entries(q.physdev.calls)) out[`xen.pirq.physdev.${k}`] = n;
  for (const [k, n] of Object.entries(q.physdev.errors)) out[`xen.pirq.physdev.error.${k}`] = n;
  out['xen.pirq.bindErrors'] = q.bindErrors;
}

const EVTCHN_PORT_COUNTERS = ['sends', 'deliveries', 'coalesced', 'maskedPending', 'upcalls'] as const;

const IRQ_COUNTERS = ['total', 'coalesced', 'firedWhileMasked', 'deliveredAfterUnmask', 'injected'] as const;

/**
 * "pci.irq-lab0.v5.total", "pci.irq-lab0.intx.injected", "pci.irq-lab0.fired",
 * "pci.irq-lab0.latencyBuckets.3". Interrupt rows and array entries that are all zero are
 * left out (a 2048-vector table stays cheap); counters only grow, so a key never vanishes
 * once it appeared.
 */
function flattenPci(d: PciDeviceSample, out: Record<string, number>): void {
  const p = `pci.${d.name}`;
  for (const r of d.irqs) {
    if (IRQ_COUNTERS.every((k) => r[k] === 0)) continue;
    for (const k of IRQ_COUNTERS) out[`${p}.${r.label}.${k}`] = r[k];
  }
  for (const [k, v] of Object.entries(d.device)) {
    if (typeof v === 'number') out[`${p}.${k}`] = v;
    else v.forEach((n, i) => n !== 0 && (out[`${p}.${k}.${i}`] = n));
  }
}

export class StatsStream {
  private timer?: NodeJS.Timeout;
  private seq = 0;
  private last?: { t: number; counters: Record<string, number> };

  constructor(
    private readonly sample: () => MachineStats,
    private readonly emit: (m: StatsMessage) => void,
    readonly hz = 10,
  ) {
    if (!(hz > 0 && hz <= 1000)) throw new RangeError(`stats rate must be in (0, 1000] Hz, got ${hz}`);
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), 1000 / this.hz);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One step: a snapshot the first time, a delta afterwards. */
  tick(): void {
    const stats = this.sample();
    const counters = flattenCounters(stats);
    const seq = this.seq++;
    if (!this.last) {
      this.emit({ kind: 'snapshot', seq, t: stats.t, stats, counters });
    } else {
      const dt = Math.max(1, stats.t - this.last.t);
      const changes: Record<string, { value: number; rate: number }> = {};
      for (const [k, v] of Object.entries(counters)) {
        const prev = this.last.counters[k];
        if (prev !== v) changes[k] = { value: v, rate: ((v - (prev ?? 0)) * 1000) / dt };
      }
      this.emit({ kind: 'delta', seq, t: stats.t, dt, changes });
    }
    this.last = { t: stats.t, counters };
  }
}
