// Starting points for profiles the user creates: a whole new VM, and a fresh device of each
// type for the editor's "Add device". Values are the core's defaults (COM1 at 0x3f8/IRQ 4,
// debug-exit at 0xf4, QEMU's pc-testdev IRQ-line ports at 0x2000) so a new VM boots as is.
import { DEFAULT_DEVICES } from '../../../core/machine/config.js';
import { PROFILE_VERSION, type DeviceProfile, type ProfileInput } from '../../../core/profiles/schema.js';

export type DeviceType = DeviceProfile['type'];
export type DeviceDraft = ProfileInput extends { devices?: (infer D)[] } ? D : never;

export const DEVICE_TYPES: { type: DeviceType; label: string; bus: 'isa' | 'pci' }[] = [
  { type: 'uart16550', label: '16550A UART (serial port)', bus: 'isa' },
  { type: 'debug-exit', label: 'Debug exit port', bus: 'isa' },
  { type: 'irq-line-testdev', label: 'IRQ-line test device', bus: 'isa' },
  { type: 'irq-lab', label: 'irq-lab (PCI, MSI/MSI-X)', bus: 'pci' },
  { type: 'virtio-blk', label: 'virtio-blk (disk)', bus: 'pci' },
  { type: 'virtio-console', label: 'virtio-console', bus: 'pci' },
  { type: 'virtio-rng', label: 'virtio-rng', bus: 'pci' },
];

/** A new VM: one vCPU, 128 MiB, the legacy devices every lab guest expects. */
export function newProfileTemplate(name: string, kernel = ''): ProfileInput {
  return {
    version: PROFILE_VERSION,
    name,
    description: '',
    platform: 'kvm',
    cpus: 1,
    memoryMiB: 128,
    irqchip: 'kernel',
    boot: { kind: 'auto', kernel, cmdline: '' },
    devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
  };
}

/** A device of `type` with usable values; `taken` ports and slots are avoided. */
export function newDevice(type: DeviceType, existing: readonly DeviceDraft[] = []): DeviceDraft {
  const ports = new Set(existing.flatMap((d) => ('port' in d && typeof d.port === 'number' ? [d.port] : [])));
  const slots = new Set(existing.flatMap((d) => ('slot' in d && typeof d.slot === 'number' ? [d.slot] : [])));
  const freePort = (...candidates: number[]) => candidates.find((p) => !ports.has(p)) ?? candidates[0]!;
  let slot = 3;
  while (slots.has(slot) && slot < 31) slot++;
  switch (type) {
    case 'uart16550': {
      // COM1..COM4 and their usual IRQs.
      const port = freePort(0x3f8, 0x2f8, 0x3e8, 0x2e8);
      return { type, port, irq: port === 0x3f8 || port === 0x3e8 ? 4 : 3 };
    }
    case 'debug-exit':
      return { type, port: freePort(0xf4, 0x501) };
    case 'irq-line-testdev':
      return { type, port: freePort(0x2000, 0x2100) };
    case 'irq-lab':
      return { type, slot, msix: { vectors: 64, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x8000 } };
    case 'virtio-blk':
      return { type, slot, image: '' };
    case 'virtio-console':
    case 'virtio-rng':
      return { type, slot };
  }
}
