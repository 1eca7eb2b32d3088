// Text rendering of an InterruptState for `vmm irq-state`, modelled on QEMU's monitor:
// `info lapic` per vCPU (LVT lines, timer, SPIV, ICR, ESR, ISR/IRR, APR/TPR/PPR), `info
// pic` for the 8259s and the IOAPIC, then the GSI routing summary and live MSI-X entries.
import type { LvtEntry } from './lapic-decode.js';
import type { InterruptState } from './irq-state.js';
import type { IoapicState, PicState } from './kvm-irqchip-decode.js';

const hex = (n: number, w = 8): string => `0x${(n >>> 0).toString(16).padStart(w, '0')}`;
const vectors = (v: number[]): string => (v.length ? v.map((x) => `${x}`).join(' ') : '(none)');

function lvtLine(name: string, e: LvtEntry): string {
  const parts = [`${name.padEnd(7)} ${hex(e.raw)}`];
  if (e.polarity) parts.push(`active-${e.polarity}`);
  parts.push(e.trigger ?? 'edge');
  if (e.remoteIrr) parts.push('remote-irr');
  if (e.masked) parts.push('masked');
  if (e.timerMode) parts.push(e.timerMode);
  if (e.deliveryStatus !== 'idle') parts.push(e.deliveryStatus);
  parts.push(`${e.deliveryMode ?? 'Fixed'} (vec ${e.vector})`);
  return parts.join(' ');
}

function formatLapics(s: InterruptState): string[] {
  const out: string[] = [];
  for (const { id, lapic: l } of s.vcpus) {
    out.push(`dumping local APIC state for CPU ${id} (APIC ID ${l.id}, version 0x${l.version.toString(16)}, ${l.maxLvt + 1} LVT entries)`, '');
    out.push(lvtLine('LVT0', l.lvt.lint0), lvtLine('LVT1', l.lvt.lint1), lvtLine('LVTPC', l.lvt.perf), lvtLine('LVTERR', l.lvt.error), lvtLine('LVTTHMR', l.lvt.thermal), lvtLine('LVTT', l.lvt.timer));
    const t = l.timer;
    out.push(`Timer   DCR=${hex(t.divideRaw, 1)} (divide by ${t.divideBy}) initial_count = ${t.initialCount} current_count = ${t.currentCount}`);
    out.push(`SPIV    ${hex(l.svr.raw)} APIC ${l.svr.enabled ? 'enabled' : 'disabled'}, spurious vector ${l.svr.spuriousVector}, focus=${l.svr.focusChecking ? 'on' : 'off'}, suppress EOI broadcast=${l.svr.eoiBroadcastSuppression ? 'on' : 'off'}`);
    out.push(`ICR     ${hex(l.icr.lo)}  ICR2 ${hex(l.icr.hi)}`, `ESR     ${hex(l.esr)}`);
    out.push(`ISR     ${vectors(l.isr)}`, `TMR     ${vectors(l.tmr)}`, `IRR     ${vectors(l.irr)}`, '');
    out.push(`APR ${hex(l.apr, 2)} TPR ${hex(l.tpr, 2)} DFR ${hex(l.dfr >>> 24, 2)} LDR ${hex(l.ldr >>> 24, 2)} PPR ${hex(l.ppr, 2)}`, '');
  }
  return out;
}

function formatPic(p: PicState, i: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return `pic${i}: irr=${h(p.irr)} imr=${h(p.imr)} isr=${h(p.isr)} hprio=${p.priorityAdd} irq_base=${h(p.irqBase)} rr_sel=${p.readRegSelect === 'isr' ? 1 : 0} elcr=${h(p.elcr)} fnm=${p.specialFullyNestedMode ? 1 : 0}`;
}

function formatIoapic(io: IoapicState): string[] {
  const out = [`ioapic (${io.source === 'kernel' ? 'in-kernel' : 'userspace, split irqchip'}): id=0x${io.id.toString(16).padStart(2, '0')} sel=0x${io.ioregsel.toString(16).padStart(2, '0')}`];
  for (const p of io.pins) {
    const cfg = p.masked && p.vector === 0 ? 'masked' : `vec=${String(p.vector).padStart(3)} ${p.deliveryMode} ${p.trigger} active-${p.polarity} ${p.destMode} dest=${p.destination}${p.masked ? ' masked' : ''}`;
    const counters = p.deliveries !== undefined ? ` (asserted ${p.assertions} delivered ${p.deliveries} coalesced ${p.coalesced})` : '';
    out.push(`  pin ${String(p.pin).padStart(2)}  ${cfg}${p.irr ? ' irr' : ''}${p.remoteIrr ? ' remote-irr' : ''}${counters}`);
  }
  const list = (f: (p: IoapicState['pins'][number]) => boolean): string => io.pins.filter(f).map((p) => p.pin).join(' ') || '(none)';
  out.push(`  IRR        ${list((p) => p.irr)}`, `  Remote IRR ${list((p) => p.remoteIrr)}`);
  return out;
}

export function formatInterruptState(s: InterruptState): string {
  const out = [`${s.name}: ${s.irqchip} irqchip, machine was ${s.machineState} at ${new Date(s.t).toISOString()}`, '', ...formatLapics(s)];
  s.pics?.forEach((p, i) => out.push(formatPic(p, i)));
  if (s.ioapic) out.push(...formatIoapic(s.ioapic));
  if (s.routing) {
    const r = s.routing;
    out.push('', `GSI routing: entries=${r.entries}/${r.maxRoutes} fixed=${r.fixedEntries} msi=${r.msiRoutes} peak-msi=${r.peakMsiRoutes} commits=${r.commits} exhausted=${r.exhausted}`);
  }
  for (const d of s.pci) {
    out.push('', `MSI-X ${d.bdf || '--:--.-'} ${d.name}: ${d.enabled ? 'enabled' : 'disabled'}${d.functionMasked ? ', function-masked' : ''}, ${d.tableSize} entries, ${d.entries.length} unmasked or pending`);
    for (const e of d.entries) {
      const x = e.decoded;
      const what = x.interruptWindow ? `vec 0x${x.vector.toString(16).padStart(2, '0')} -> APIC ${x.destinationId} (${x.destinationMode}) ${x.deliveryModeName} ${x.trigger}` : 'not an interrupt address';
      out.push(`  ${String(e.vector).padStart(4)}  addr ${hex(e.addressHi)}_${hex(e.addressLo).slice(2)} data ${hex(e.data)}  ${what}${e.masked ? ' masked' : ''}${e.pending ? ' pending' : ''}`);
    }
  }
  return out.join('\n');
}
