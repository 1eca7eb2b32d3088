// Text rendering of MachineStats for `vmm run --stats`: per-vCPU columns in the spirit of
// /proc/interrupts, the IOAPIC pin table (split irqchip), device counters, each PCI
// device's interrupt sources (only rows that saw an interrupt or are pending: a 2048-vector
// table prints what happened, not 2048 lines) and the buses.
import type { MachineStats, PciDeviceSample } from './machine-stats.js';

/** KVM binary-stats counters worth a row, in display order (present ones only). */
const KVM_ROWS = ['exits', 'io_exits', 'mmio_exits', 'irq_exits', 'halt_exits', 'irq_window_exits', 'irq_injections', 'nmi_injections', 'req_event', 'signal_exits', 'insn_emulation', 'insn_emulation_fail'];

/** Columns padded to their widest cell; the first left-aligned, the rest right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells: (string | number)[]): string =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatStats(s: MachineStats): string {
  const out: string[] = [];
  const cpus = s.vcpus.map((v) => `CPU${v.id}`);
  const vcpuRows: (string | number)[][] = [
    ['vmm exits', ...s.vcpus.map((v) => v.exits)],
    ['vcpu-thread io', ...s.vcpus.map((v) => v.localIo)],
  ];
  for (const name of KVM_ROWS) {
    if (s.vcpus.some((v) => name in v.kvm)) vcpuRows.push([`kvm ${name}`, ...s.vcpus.map((v) => v.kvm[name] ?? 0)]);
  }
  vcpuRows.push(['state', ...s.vcpus.map((v) => v.state)]);
  out.push(...table(['', ...cpus], vcpuRows));

  if (s.ioapic) {
    out.push('', `IOAPIC (userspace, split irqchip): id ${s.ioapic.id} version 0x${s.ioapic.version.toString(16)}`);
    const used = s.ioapic.pins.filter((p) => p.assertions || p.deliveries || !p.masked);
    out.push(...table(
      ['pin', 'vector', 'dest', 'trigger', 'masked', 'asserted', 'delivered', 'coalesced', 'masked-hits', 'eois'],
      used.map((p) => [p.pin, `0x${p.vector.toString(16)}`, p.destination, p.trigger, p.masked ? 'yes' : 'no', p.assertions, p.deliveries, p.coalesced, p.maskedWhileAsserted, p.eois]),
    ));
  } else {
    out.push('', `IOAPIC: in-kernel (${s.irqchip} irqchip); per-pin counts are KVM's own`);
  }

  out.push('', 'devices:');
  for (const d of s.devices) {
    const nonzero = Object.entries(d.stats).filter(([, v]) => v !== 0);
    out.push(`  ${d.name.padEnd(24)} ${nonzero.length ? nonzero.map(([k, v]) => `${k}=${v}`).join(' ') : '(idle)'}`);
  }
  for (const d of s.pci ?? []) out.push('', ...formatPciDevice(d));
  if (s.pci?.length) out.push('');
  if (s.routing) {
    const r = s.routing;
    out.push(`  ${'GSI routing'.padEnd(24)} entries=${r.entries}/${r.maxRoutes} fixed=${r.fixedEntries} msi=${r.msiRoutes} peak-msi=${r.peakMsiRoutes} allocations=${r.allocations} reuses=${r.reuses} exhausted=${r.exhausted} commits=${r.commits}`);
  }
  if (s.xen) out.push(...formatXen(s.xen));
  for (const [bus, st] of Object.entries(s.buses)) {
    out.push(`  ${`${bus} bus`.padEnd(24)} reads=${st.reads} writes=${st.writes} unassigned-reads=${st.unassignedReads} unassigned-writes=${st.unassignedWrites}`);
  }
  return out.join('\n');
}

function formatXen(x: NonNullable<MachineStats['xen']>): string[] {
  const kv = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)';
  return [
    '', `Xen HVM: shared_info gfn ${x.sharedInfoGfn < 0 ? '-' : `0x${x.sharedInfoGfn.toString(16)}`}, callback ${x.callback}, upcall vectors [${x.upcallVectors.map((v) => (v ? `0x${v.toString(16)}` : '-')).join(' ')}]`,
    `  hypercalls: ${kv(x.calls)}`,
    `  errors:     ${kv(x.errors)}`,
    `  fast-path=${x.fastPath} forwarded=${x.forwarded} cpl-denied=${x.cplDenied} hypercall-pages=${x.hypercallPages} msr-#gp=${x.msrFaults} timers-fired=${x.timersFired} upcalls=[${x.upcalls.join(' ')}]`,
    ...formatEvtchn(x.evtchn),
    ...formatPirq(x.pirq),
    '',
  ];
}

function formatPirq(q: NonNullable<MachineStats['xen']>['pirq'] | undefined): string[] {
  if (!q) return [];
  const kv = (r: object): string => Object.entries(r).map(([k, v]) => `${k}=${v as number}`).join(' ');
  const out = [
    `  pirqs: gsi-hook(${kv(q.gsi)}) msi(${kv(q.msi)}) physdev(${kv(q.physdev.calls) || 'none'}) errors(${kv(q.physdev.errors) || 'none'})`,
  ];
  if (q.pirqs.length) {
    out.push(...table(
      ['  pirq', 'source', 'port', 'count', 'dropped'],
      q.pirqs.map((r) => [`  ${r.pirq}`, r.source, r.port || '-', r.count, r.dropped]),
    ));
  }
  return out;
}

function formatEvtchn(e: NonNullable<MachineStats['xen']>['evtchn']): string[] {
  const ops = Object.entries(e.ops).map(([op, r]) => `${op}(${Object.entries(r).map(([k, n]) => `${k}=${n}`).join(' ')})`).join(' ') || '(none)';
  const out = [`  event channels (${e.abi}): upcalls=[${e.upcallsPerVcpu.join(' ')}] ops: ${ops}`];
  if (e.ports.length) {
    out.push(...table(
      ['  port', 'type', 'vcpu', 'prio', 'sends', 'deliveries', 'coalesced', 'masked-pending', 'upcalls'],
      e.ports.map((p) => [`  ${p.port}`, p.type, p.vcpu, p.priority, p.sends, p.deliveries, p.coalesced, p.maskedPending, p.upcalls]),
    ));
  }
  return out;
}

function formatPciDevice(d: PciDeviceSample): string[] {
  const out = [`PCI ${d.bdf || '--:--.-'} ${d.name} (${d.state})`];
  const used = d.irqs.filter((r) => r.total || r.pending || r.coalesced || r.injected);
  const idle = d.irqs.length - used.length;
  if (used.length) {
    out.push(...table(
      ['  source', 'path', 'gsi', 'mask/pend', 'total', 'coalesced', 'fired-masked', 'after-unmask', 'injected'],
      used.map((r) => [`  ${r.label}`, r.path, r.gsi ?? '-', `${r.masked ? 'M' : '-'}${r.pending ? 'P' : '-'}`, r.total, r.coalesced, r.firedWhileMasked, r.deliveredAfterUnmask, r.injected]),
    ));
  }
  if (idle) out.push(`  (${idle} idle source${idle === 1 ? '' : 's'} not shown)`);
  const counters = Object.entries(d.device).filter(([, v]) => typeof v === 'number' && v !== 0).map(([k, v]) => `${k}=${v as number}`);
  if (counters.length) out.push(`  device: ${counters.join(' ')}`);
  for (const [k, v] of Object.entries(d.device)) {
    if (typeof v === 'number' || !v.some((n) => n !== 0)) continue;
    out.push(`  ${k}: ${v.map((n, i) => (n ? `[${i}]=${n}` : '')).filter(Boolean).join(' ')}`);
  }
  return out;
}
