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

export interface MachineConfig {
  name: string;
  cpus: number;
  memoryMiB: number;
  irqchip: IrqchipMode;
  boot: BootConfig;
  devices: LegacyDeviceConfig[];
}

export const DEFAULT_DEVICES: LegacyDeviceConfig[] = [
  { type: 'uart16550', port: 0x3f8, irq: 4 },
  { type: 'debug-exit', port: 0xf4 },
  { type: 'irq-line-testdev', port: 0x2000 },
];
