// Test doubles for the live interrupt views: machine samples and stream messages shaped
// like core/stats' output, and a fake VmmApi whose interrupt requests act on a small
// in-memory MSI-X table and Xen port table (so a test can mask a vector and see it pending).
// Used by the store, model and component tests only.
import type {
  MsixEntryView,
  MsixTableView,
  RoutingTableView,
  StatsEvent,
  VmmApi,
  XenPirqView,
  XenPortsView,
} from '../../../../../core/api/contract.js';
import type { MachineStats, PciIrqRow } from '../../../../../core/stats/machine-stats.js';
import type { StatsMessage } from '../../../../../core/stats/stream.js';

export function irqRow(label: string, over: Partial<PciIrqRow> = {}): PciIrqRow {
  return {
    label, path: 'irqfd', gsi: 24, masked: false, pending: false, total: 0, coalesced: 0, firedWhileMasked: 0,
    deliveredAfterUnmask: 0, injected: 0, ...over,
  };
}

export function machineStats(t: number, over: Partial<MachineStats> = {}): MachineStats {
  return {
    t,
    irqchip: 'kernel',
    vcpus: [
      { id: 0, state: 'running', exits: 10, localIo: 1, kvm: {} },
      { id: 1, state: 'running', exits: 20, localIo: 2, kvm: {} },
    ],
    devices: [],
    pci: [{ name: 'lab0', bdf: '00:03.0', state: 'running', irqs: [irqRow('v0'), irqRow('v1', { gsi: 25 })], device: {} }],
    buses: { pio: {}, mmio: {} },
    ...over,
  };
}

export function snapshotMsg(t: number, counters: Record<string, number>, seq = 0, stats = machineStats(t)): StatsMessage {
  return { kind: 'snapshot', seq, t, stats, counters };
}

export function deltaMsg(t: number, seq: number, changes: Record<string, [value: number, rate: number]>): StatsMessage {
  return {
    kind: 'delta', seq, t, dt: 100,
    changes: Object.fromEntries(Object.entries(changes).map(([k, [value, rate]]) => [k, { value, rate }])),
  };
}

export interface FakeApi {
  api: VmmApi;
  calls: { method: string; args: unknown[] }[];
  emitStats(e: StatsEvent): void;
  listeners: number;
  /** Make the next call of `method` reject with `message`. */
  failNext(method: string, message: string): void;
  msix: MsixEntryView[];
  ports: XenPortsView;
  pirqs: XenPirqView[];
}

export function msixEntry(index: number, over: Partial<MsixEntryView> = {}): MsixEntryView {
  return {
    index, addressLo: 0xfee01000, addressHi: 0, data: 0x4030 + index, masked: false, pending: false, dest: 1,
    vector: 0x30 + index, destMode: 'physical', deliveryMode: 'Fixed', trigger: 'edge', gsi: 24 + index, path: 'irqfd',
    total: 0, coalesced: 0, firedWhileMasked: 0, deliveredAfterUnmask: 0, ...over,
  };
}

/** A fake API over a `vectors`-entry irq-lab table and a 3-port Xen domain. */
export function fakeApi(opts: { vectors?: number; snapshot?: StatsEvent['msg'] } = {}): FakeApi {
  const listeners = new Set<(e: StatsEvent) => void>();
  const failures = new Map<string, string>();
  const calls: FakeApi['calls'] = [];
  const msix = Array.from({ length: opts.vectors ?? 8 }, (_, i) => msixEntry(i));
  const ports: XenPortsView = {
    abi: 'fifo',
    vcpus: 2,
    ports: [1, 2, 3].map((port) => ({
      port, type: port === 3 ? 'pirq' : 'ipi', vcpu: 0, priority: 7, pending: false, masked: false,
      detail: port === 3 ? 'pirq 16' : '', sends: port, deliveries: port, coalesced: 0, maskedPending: 0, upcalls: port,
    })),
  };
  const pirqs: XenPirqView[] = [{ pirq: 16, source: 'msi lab0 v0', port: 3, count: 5, dropped: 0 }];
  const routing: RoutingTableView = {
    entries: [
      { gsi: 4, kind: 'irqchip', target: 'ioapic pin 4', updates: 1 },
      { gsi: 24, kind: 'msi', addressLo: 0xfee01000, addressHi: 0, data: 0x4030, dest: 1, vector: 0x30, owner: 'pci 00:03.0 lab0 v0', updates: 3 },
    ],
    stats: { entries: 2, msiRoutes: 1, maxRoutes: 4096, peakMsiRoutes: 1, exhausted: 0 },
  };
  const act = async <T>(method: string, args: unknown[], f: () => T): Promise<T> => {
    calls.push({ method, args });
    const fail = failures.get(method);
    if (fail !== undefined) {
      failures.delete(method);
      throw new Error(fail);
    }
    return f();
  };
  const snap = opts.snapshot ?? snapshotMsg(1000, {});
  const table = (device: string, first = 0, count = msix.length): MsixTableView => ({
    device, bdf: '00:03.0', enabled: true, functionMasked: false, vectors: msix.length, tableBar: 1, tableOffset: 0,
    pbaBar: 1, pbaOffset: 0x8000, first, entries: msix.slice(first, first + count).map((e) => ({ ...e })), canFire: true,
  });
  const api = {
    mode: 'web',
    statsSnapshot: (id: string) =>
      act('statsSnapshot', [id], () => {
        if (snap.kind !== 'snapshot') throw new Error('fixture snapshot must be a snapshot message');
        return { stats: snap.stats, counters: snap.counters, rates: {} };
      }),
    onStats: (cb: (e: StatsEvent) => void) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    msixTable: (id: string, device: string, first?: number, count?: number) => act('msixTable', [id, device, first, count], () => table(device, first, count)),
    setVectorMask: (id: string, device: string, vector: number, masked: boolean) =>
      act('setVectorMask', [id, device, vector, masked], () => {
        const e = msix[vector]!;
        if (!masked && e.pending) e.deliveredAfterUnmask++;
        e.masked = masked;
        e.pending = false;
      }),
    fireVector: (id: string, device: string, vector: number, count?: number) =>
      act('fireVector', [id, device, vector, count], () => {
        const e = msix[vector]!;
        e.total += count ?? 1;
        if (e.masked) {
          e.pending = true;
          e.firedWhileMasked += count ?? 1;
        }
      }),
    routingTable: (id: string) => act('routingTable', [id], () => routing),
    xenPorts: (id: string) => act('xenPorts', [id], () => ({ ...ports, ports: ports.ports.map((p) => ({ ...p })) })),
    xenPirqs: (id: string) => act('xenPirqs', [id], () => pirqs.map((p) => ({ ...p }))),
    xenSend: (id: string, port: number) => act('xenSend', [id, port], () => void ports.ports.find((p) => p.port === port)!.sends++),
    xenBindVcpu: (id: string, port: number, vcpu: number) =>
      act('xenBindVcpu', [id, port, vcpu], () => void (ports.ports.find((p) => p.port === port)!.vcpu = vcpu)),
    xenSetPortMask: (id: string, port: number, masked: boolean) =>
      act('xenSetPortMask', [id, port, masked], () => void (ports.ports.find((p) => p.port === port)!.masked = masked)),
  } as unknown as VmmApi;
  return {
    api,
    calls,
    msix,
    ports,
    pirqs,
    emitStats: (e) => listeners.forEach((cb) => cb(e)),
    get listeners() {
      return listeners.size;
    },
    failNext: (method, message) => failures.set(method, message),
  };
}
