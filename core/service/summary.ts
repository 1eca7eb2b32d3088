// What the library shows about a profile: the fields of its card, with devices named by
// type ("irq-lab (2048 MSI-X)", "virtio-blk (read-only)").
import type { ProfileSummary } from '../api/contract.js';
import type { CatalogEntry } from '../profiles/catalog.js';
import type { DeviceProfile } from '../profiles/schema.js';

export function deviceLabel(d: DeviceProfile): string {
  switch (d.type) {
    case 'irq-lab':
      return d.msix ? `irq-lab (${d.msix.vectors} MSI-X)` : d.msiVectors ? `irq-lab (${d.msiVectors} MSI)` : 'irq-lab';
    case 'virtio-blk':
      return d.readonly ? 'virtio-blk (read-only)' : 'virtio-blk';
    case 'uart16550':
      return `uart16550 (0x${d.port.toString(16)}, IRQ ${d.irq})`;
    default:
      return d.type;
  }
}

export function summarize({ profile, source, file }: CatalogEntry): ProfileSummary {
  return {
    name: profile.name,
    ...(profile.description !== undefined && { description: profile.description }),
    platform: profile.platform,
    cpus: profile.cpus,
    memoryMiB: profile.memoryMiB,
    irqchip: profile.irqchip,
    bootKind: profile.boot.kind,
    kernel: profile.boot.kernel,
    cmdline: profile.boot.cmdline,
    devices: profile.devices.map(deviceLabel),
    source,
    ...(file !== undefined && { file }),
  };
}
