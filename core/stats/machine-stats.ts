// One consistent sample of a machine's interrupt-relevant counters: per vCPU (our exit
// counts and KVM's own binary stats), the userspace IOAPIC's pins (split irqchip), every
// legacy device's counters and the buses' unassigned-access counts. Sampling only reads
// live counters; it never touches device or interrupt state.
import type { Machine } from '../machine/machine.js';
import type { IoapicSnapshot } from '../devices/ioapic.js';

export interface VcpuSample {
  id: number;
  state: string;
  /** KVM_RUN exits seen by the vCPU loop, and those answered on the vCPU thread itself. */
  exits: number;
  localIo: number;
  /** KVM_GET_STATS_FD counters (empty when the host has no binary stats). */
  kvm: Record<string, number>;
}

export interface MachineStats {
  /** Milliseconds since the epoch at sampling. */
  t: number;
  irqchip: string;
  vcpus: VcpuSample[];
  ioapic?: IoapicSnapshot;
  devices: { name: string; stats: Record<string, number> }[];
  buses: Record<'pio' | 'mmio', Record<string, number>>;
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
    buses: { pio: { ...m.pio.stats }, mmio: { ...m.mmio.stats } },
  };
}
