// Text tables for the interrupt views `vmm msix|routes|ports|pirqs` print (the contract's
// view types, as the control socket returns them). Pure functions; columns follow the
// statistics table's style (core/stats/format.ts).
import type { MsixTableView, RoutingTableView, XenPirqView, XenPortsView } from '../api/contract.js';
import { table } from '../stats/format.js';

const hex = (n: number | undefined, w = 8): string => (n === undefined ? '-' : `0x${(n >>> 0).toString(16).padStart(w, '0')}`);
const flags = (masked: boolean, pending: boolean): string => `${masked ? 'M' : '-'}${pending ? 'P' : '-'}`;

export function formatMsixTable(t: MsixTableView): string {
  const last = t.first + t.entries.length - 1;
  const out = [
    `${t.device} ${t.bdf || '--:--.-'}: MSI-X ${t.vectors} vectors, ${t.enabled ? 'enabled' : 'disabled'}, function mask ${t.functionMasked ? 'on' : 'off'}; table BAR${t.tableBar}+${hex(t.tableOffset, 1)}, PBA BAR${t.pbaBar}+${hex(t.pbaOffset, 1)}${t.canFire ? '; fire with `vmm fire`' : ''}`,
    t.entries.length ? `entries ${t.first}..${last} (M masked, P pending)` : 'no entries in this window',
  ];
  if (!t.entries.length) return out.join('\n');
  out.push(...table(
    ['vector', 'address', 'data', 'dest', 'vec', 'mode', 'trigger', 'M/P', 'gsi', 'path', 'total', 'coalesced', 'fired-masked', 'after-unmask', 'host-writes', 'pirq'],
    t.entries.map((e) => [
      e.index, `${hex(e.addressHi)}_${hex(e.addressLo, 8).slice(2)}`, hex(e.data), e.dest, `0x${e.vector.toString(16).padStart(2, '0')}`,
      `${e.deliveryMode}/${e.destMode === 'logical' ? 'log' : 'phys'}`, e.trigger, flags(e.masked, e.pending), e.gsi ?? '-', e.path,
      e.total, e.coalesced, e.firedWhileMasked, e.deliveredAfterUnmask, e.hostWrites ?? 0, e.pirq ?? '-',
    ]),
  ));
  return out.join('\n');
}

export function formatRoutes(r: RoutingTableView): string {
  const s = r.stats;
  const out = [
    `GSI routing: ${s['entries'] ?? '?'}/${s['maxRoutes'] ?? '?'} entries (fixed ${s['fixedEntries'] ?? '?'}, MSI ${s['msiRoutes'] ?? '?'}, peak MSI ${s['peakMsiRoutes'] ?? '?'}), allocations ${s['allocations'] ?? 0}, reuses ${s['reuses'] ?? 0}, exhausted ${s['exhausted'] ?? 0}, commits ${s['commits'] ?? 0}`,
  ];
  out.push(...table(
    ['gsi', 'kind', 'target / owner', 'address', 'data', 'dest', 'vec', 'updates'],
    r.entries.map((e) => [
      e.gsi, e.kind, e.owner ?? e.target ?? '-', e.addressLo === undefined ? '-' : `${hex(e.addressHi)}_${hex(e.addressLo).slice(2)}`,
      hex(e.data), e.dest ?? '-', e.vector === undefined ? '-' : `0x${e.vector.toString(16).padStart(2, '0')}`, e.updates ?? '-',
    ]),
  ));
  return out.join('\n');
}

export function formatPorts(p: XenPortsView): string {
  const out = [`event channels: ${p.abi === 'none' ? 'no ABI yet (shared_info not mapped)' : `${p.abi} ABI`}, ${p.vcpus} vCPUs, ${p.ports.length} bound ports (M masked, P pending)`];
  if (!p.ports.length) return out.join('\n');
  out.push(...table(
    ['port', 'type', 'detail', 'vcpu', 'prio', 'M/P', 'sends', 'deliveries', 'coalesced', 'masked-pending', 'upcalls'],
    p.ports.map((x) => [x.port, x.type, x.detail || '-', x.vcpu, x.priority, flags(x.masked, x.pending), x.sends, x.deliveries, x.coalesced, x.maskedPending, x.upcalls]),
  ));
  return out.join('\n');
}

export function formatPirqs(rows: XenPirqView[]): string {
  if (!rows.length) return 'no PIRQs mapped';
  return table(
    ['pirq', 'source', 'port', 'count', 'dropped', 'masked'],
    rows.map((r) => [r.pirq, r.source, r.port ?? '-', r.count, r.dropped, r.masked === undefined ? '-' : r.masked ? 'yes' : 'no']),
  ).join('\n');
}
