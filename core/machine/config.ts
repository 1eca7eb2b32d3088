// The resolved configuration a Machine is built from. Profiles (core/profiles) are the
// user-facing, versioned file format; they are validated and resolved into a MachineConfig
// (paths made absolute, defaults filled in) before anything touches KVM.

export type IrqchipMode = 'kernel' | 'split';
export type BootKind = 'auto' | 'pvh' | 'multiboot' | 'bzimage';

export interface BootConfig {
  kind: BootKind;
  /** Absolute path of the kernel image. */
  kernel: string;
  /** Absolute path of an initrd (bzImage, PVH module 0) or multiboot modules. */
  initrd?: string;
  modules?: string[];
  cmdline: string;
}

export type LegacyDeviceConfig =
  | { type: 'uart16550'; port: number; irq: number }
  | { type: 'debug-exit'; port: number }
  /** QEMU's pc-testdev IRQ-line ports: outb(base + line, level) drives ISA IRQ `line`. */
  | { type: 'irq-line-testdev'; port: number };

/** Where an MSI-X table and PBA live, as an assigned device would describe them. */
export interface MsixLayoutConfig {
  vectors: number;
  tableBar: number;
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
}

export type PciDeviceConfig =
  /** The Interrupt Lab's test device (docs/irq-lab.md). */
  | { type: 'irq-lab'; slot?: number; msix?: MsixLayoutConfig; msiVectors?: number }
  /** virtio-blk over vhost-user: our backend process on `image`, or an external backend at `socket`. */
  | { type: 'virtio-blk'; slot?: number; image?: string; readonly?: boolean; socket?: string }
  | { type: 'virtio-console'; slot?: number }
  | { type: 'virtio-rng'; slot?: number };

export type DeviceConfig = LegacyDeviceConfig | PciDeviceConfig;

export const isPciDevice = (d: DeviceConfig): d is PciDeviceConfig =>
  d.type === 'irq-lab' || d.type === 'virtio-blk' || d.type === 'virtio-console' || d.type === 'virtio-rng';

/** kvm: a plain PC. xen-hvm: the same PC that also looks like a Xen HVM domain (core/xen). */
export type Platform = 'kvm' | 'xen-hvm';

export interface MachineConfig {
  name: string;
  /** Default 'kvm'. */
  platform?: Platform;
  cpus: number;
  memoryMiB: number;
  irqchip: IrqchipMode;
  boot: BootConfig;
  devices: DeviceConfig[];
  /**
   * Cap on KVM GSI routing-table entries (default: KVM's 4096). A lab knob: a small limit
   * makes MSI vectors run out of routes and fall back to KVM_SIGNAL_MSI from userspace.
   */
  gsiRouteLimit?: number;
}

export const DEFAULT_DEVICES: LegacyDeviceConfig[] = [
  { type: 'uart16550', port: 0x3f8, irq: 4 },
  { type: 'debug-exit', port: 0xf4 },
  { type: 'irq-line-testdev', port: 0x2000 },
];
