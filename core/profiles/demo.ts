// Built-in profiles: the demo VM, the Interrupt Lab demos the desktop app shows first (an
// MSI-X storm over 2048 vectors, and Xen event channels with PIRQs) and one profile per
// Interrupt Lab guest. Their kernels live in guests/out/ under the package root
// (core/paths.ts finds it from source, from out/node and from the Electron bundle alike).
// The demos run until they are stopped.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DEVICES } from '../machine/config.js';
import { guestsDir } from '../paths.js';
import { PROFILE_VERSION, type DeviceProfile, type Profile } from './schema.js';

export function labGuestPath(guest: string): string {
  return join(guestsDir(), `${guest}.elf`);
}

interface LabGuest {
  guest: string;
  /** Profile name; default "Interrupt Lab: <guest>". */
  name?: string;
  cpus: number;
  description: string;
  platform?: 'kvm' | 'xen-hvm';
  cmdline?: string;
  devices?: DeviceProfile[];
}

/** Interrupts per second the storm demo asks its guest for (issue 5's dashboard target). */
export const STORM_RATE = 100_000;
export const STORM_DEMO = 'Interrupt Lab: MSI-X storm';
export const XEN_DEMO = 'Interrupt Lab: Xen event channels';

/** The irq-lab device with a full 2048-entry table: table in BAR1, PBA in BAR2. */
const STORM_DEVICE: DeviceProfile = { type: 'irq-lab', msix: { vectors: 2048, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0 } };
/**
 * Xen demo: irq-lab0's MSI-X vectors carry PIRQs; irq-lab1 drives its INTx GSI (a function
 * with MSI-X enabled must not use INTx, PCI 3.0 §6.8.2.3, hence a second function).
 */
const XEN_DEVICES: DeviceProfile[] = [
  { type: 'irq-lab', msix: { vectors: 4, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 } },
  { type: 'irq-lab', msix: { vectors: 1, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 } },
];

const DEMOS: LabGuest[] = [
  {
    guest: 'irqlab-msix',
    name: STORM_DEMO,
    cpus: 2,
    description: `2048 MSI-X vectors, all unmasked and spread over 2 vCPUs, fired at about ${STORM_RATE.toLocaleString('en')} interrupts/s; mask a vector to see it pend, unmask it to see it delivered.`,
    cmdline: `console=ttyS0 storm_rate=${STORM_RATE}`,
    devices: [STORM_DEVICE],
  },
  {
    guest: 'xen-demo',
    name: XEN_DEMO,
    cpus: 2,
    platform: 'xen-hvm',
    description: 'A Xen HVM guest with VIRQ_TIMER, an IPI port per vCPU, a loopback interdomain pair and irq-lab INTx and MSI-X vectors on PIRQs, all live.',
    devices: XEN_DEVICES,
  },
];

const LAB_GUESTS: LabGuest[] = [
  { guest: 'hello', cpus: 2, description: 'Boots, greets over the serial port and exits: the smallest end-to-end check.' },
  { guest: 'smp', cpus: 4, description: 'Starts every vCPU and sends IPIs between them.' },
  { guest: 'lapic', cpus: 1, description: 'Local APIC interrupts on one vCPU: timer, self-IPI and EOI.' },
  { guest: 'ioapic', cpus: 2, description: 'Drives ISA IRQ lines through the IOAPIC to LAPIC vectors.' },
  { guest: 'serial', cpus: 1, description: 'UART 16550 interrupts on IRQ 4.' },
];

function labProfile(g: LabGuest): Profile {
  return {
    version: PROFILE_VERSION,
    name: g.name ?? `Interrupt Lab: ${g.guest}`,
    description: g.description,
    platform: g.platform ?? 'kvm',
    cpus: g.cpus,
    memoryMiB: 128,
    irqchip: 'kernel',
    // Absolute kernel path: built-in profiles have no file, so nothing to be relative to.
    boot: { kind: 'auto', kernel: labGuestPath(g.guest), cmdline: g.cmdline ?? 'console=ttyS0' },
    devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), ...(g.devices ?? []).map((d) => structuredClone(d))],
  };
}

/** The demo VM: the `hello` lab guest (its kernel may not be built yet; starting it says so). */
export function demoProfile(): Profile {
  return labProfile(LAB_GUESTS[0]!);
}

/** The Interrupt Lab demo VMs (MSI-X storm, Xen event channels), whether built or not. */
export function interruptLabDemos(): Profile[] {
  return DEMOS.map(labProfile);
}

/** The Interrupt Lab demos and one profile per lab guest whose kernel has been built (`npm run build:guests`). */
export function labProfiles(): Profile[] {
  return [...DEMOS, ...LAB_GUESTS].filter((g) => existsSync(labGuestPath(g.guest))).map(labProfile);
}
