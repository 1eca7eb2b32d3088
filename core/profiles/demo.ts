// Built-in profiles: the demo VM and one profile per Interrupt Lab guest. Their kernels
// live in guests/out/ under the package root (core/paths.ts finds it from source, from
// out/node and from the Electron bundle alike).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DEVICES } from '../machine/config.js';
import { guestsDir } from '../paths.js';
import { PROFILE_VERSION, type Profile } from './schema.js';

export function labGuestPath(guest: string): string {
  return join(guestsDir(), `${guest}.elf`);
}

interface LabGuest {
  guest: string;
  cpus: number;
  description: string;
}

const LAB_GUESTS: LabGuest[] = [
  { guest: 'hello', cpus: 2, description: 'Boots, greets over the serial port and exits: the smallest end-to-end check.' },
  { guest: 'smp', cpus: 4, description: 'Starts every vCPU and sends IPIs between them.' },
  { guest: 'lapic', cpus: 1, description: 'Local APIC interrupts on one vCPU: timer, self-IPI and EOI.' },
  { guest: 'ioapic', cpus: 2, description: 'Drives ISA IRQ lines through the IOAPIC to LAPIC vectors.' },
  { guest: 'serial', cpus: 1, description: 'UART 16550 interrupts on IRQ 4.' },
];

function labProfile({ guest, cpus, description }: LabGuest): Profile {
  return {
    version: PROFILE_VERSION,
    name: `Interrupt Lab: ${guest}`,
    description,
    platform: 'kvm',
    cpus,
    memoryMiB: 128,
    irqchip: 'kernel',
    // Absolute kernel path: built-in profiles have no file, so nothing to be relative to.
    boot: { kind: 'auto', kernel: labGuestPath(guest), cmdline: 'console=ttyS0' },
    devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
  };
}

/** The demo VM: the `hello` lab guest (its kernel may not be built yet; starting it says so). */
export function demoProfile(): Profile {
  return labProfile(LAB_GUESTS[0]!);
}

/** One profile per lab guest whose kernel has been built (`npm run build:guests`). */
export function labProfiles(): Profile[] {
  return LAB_GUESTS.filter((g) => existsSync(labGuestPath(g.guest))).map(labProfile);
}
