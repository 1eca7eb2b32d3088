// One consistent sample of a machine's interrupt-relevant counters: per vCPU (our exit
// counts and KVM's own binary stats), the userspace IOAPIC's pins (split irqchip), every
// legacy device's counters, each PCI device's interrupt sources (one row per MSI/MSI-X
// vector or INTx pin, with its delivery path) and device counters, and the buses'
// unassigned-access counts. Sampling only reads live counters; it never touches device or
// interrupt state (a PCI device may refresh its cached counters asynchronously).
import type { Machine } from '../machine/machine.js';
import type { IoapicSnapshot } from '../devices/ioapic.js';
import type { InterruptSourceStats } from '../irq/interrupt-manager.js';
import type { PciDevice } from '../machine/pci-device.js';
import type { XenPlatformSample } from '../xen/xen-platform.js';

export interface VcpuSample {
  id: number;
  state: string;
  /** KVM_RUN exits seen by the vCPU loop, and those answered on the vCPU thread itself. */
  exits: number;
  localIo: number;
  /** KVM_GET_STATS_FD counters (empty when the host has no binary stats). */
  kvm: Record<string, number>;
}

/** One interrupt source of a PCI device: an MSI-X vector ("v5"), an MSI vector ("msi0") or INTx ("intx"). */
export type PciIrqRow = Omit<InterruptSourceStats, 'source'> & { label: string };

export interface PciDeviceSample {
  name: string;
  /** bus:device.function, or "" when the device is not on the bridge. */
  bdf: string;
  state: string;
  irqs: PciIrqRow[];
  /** Device-specific counters (irq-lab: fired, acked, latencyBuckets, ...). */
  device: Record<string, number | number[]>;
}

export interface MachineStats {
  /** Milliseconds since the epoch at sampling. */
  t: number;
  irqchip: string;
  vcpus: VcpuSample[];
  ioapic?: IoapicSnapshot;
  devices: { name: string; stats: Record<string, number> }[];
  pci?: PciDeviceSample[];
  buses: Record<'pio' | 'mmio', Record<string, number>>;
  /** KVM's GSI routing table: fixed (irqchip) and MSI entries, allocations, exhaustion. */
  routing?: Record<string, number>;
  /** Xen HVM platform (xen-hvm VMs): hypercalls by name and errno, upcalls per vCPU. */
  xen?: XenPlatformSample;
}

export function sampleMachine(m: Machine): MachineStats {
  return {
    t: Date.now(),
    irqchip: m.irqchip.mode,
    vcpus: m.vcpus.map((v, i) => ({
      id: v.id,
      state: v.reportedState(),
      exits: v.exitCount(),
      localIo: v.localIoCount(),
      kvm: m.vcpuKvmStats[i]?.sample() ?? {},
    })),
    ioapic: m.irqchip.ioapic?.snapshot(),
    devices: m.devices.stats.map((d) => ({ name: d.name, stats: { ...(d.stats as Record<string, number>) } })),
    pci: samplePciDevices(m),
    buses: { pio: { ...m.pio.stats }, mmio: { ...m.mmio.stats } },
    routing: m.interrupts ? { ...m.interrupts.routerStats() } : undefined,
    xen: m.xen?.sample(),
  };
}

function samplePciDevices(m: Machine): PciDeviceSample[] {
  const where = new Map(m.pci.bridge.list().map((e) => [e.fn, e.bdf]));
  return m.pciDevices.map((d) => ({
    name: d.name,
    bdf: where.get(d.fn) ?? '',
    state: d.state,
    irqs: irqRows(d),
    // Host-side MSI-X table writes (mask/unmask from the UI or CLI) next to the device's own.
    device: { ...(d.deviceStats?.() ?? {}), ...(d.fn.msix ? { msixHostWrites: d.fn.msix.stats.hostWrites } : {}) },
  }));
}

/** Rows labelled by provenance: a source of a sub-group ("irq-lab0/msi") keeps its suffix. */
function irqRows(d: PciDevice): PciIrqRow[] {
  return d.interruptStats().map((r) => {
    const sub = r.source.device.startsWith(`${d.name}/`) ? r.source.device.slice(d.name.length + 1) : '';
    const label = r.source.vector !== undefined ? `${sub || 'v'}${r.source.vector}` : sub || `pin${r.source.pin ?? 0}`;
    return {
      label, path: r.path, gsi: r.gsi, masked: r.masked, pending: r.pending, total: r.total, coalesced: r.coalesced,
      firedWhileMasked: r.firedWhileMasked, deliveredAfterUnmask: r.deliveredAfterUnmask, injected: r.injected,
    };
  });
}
