// MADT ("APIC" table, ACPI 6.5 section 5.2.12): tells the guest where the local APICs and the
// IOAPIC are and how ISA IRQs reach IOAPIC pins. One processor entry per vCPU with APIC ID =
// vCPU index (xAPIC entries up to ID 254, x2APIC entries above: 255 is the xAPIC broadcast
// ID); one IOAPIC with GSI base 0; the two interrupt source overrides a PC needs (PIT on
// pin 2, SCI level-triggered on pin 9); LINT1 of every local APIC wired to NMI.
import { IOAPIC_BASE, LAPIC_BASE } from '../memory/layout.js';
import type { AcpiTable } from './acpi-sdt.js';
import { LeWriter, TableLayoutError } from './encode.js';

/** ACPI 6.3+ MADT revision; Linux only uses it to honour the Online Capable flag we never set. */
export const MADT_REVISION = 5;
export const MADT_FLAG_PCAT_COMPAT = 1 << 0; // dual 8259s present (they are: KVM's PIC)

/** Interrupt controller structure types (ACPI 6.5 table 5.21). */
export const MADT_ENTRY = {
  localApic: 0, // 8 bytes
  ioApic: 1, // 12 bytes
  interruptSourceOverride: 2, // 10 bytes
  localApicNmi: 4, // 6 bytes
  localX2Apic: 9, // 16 bytes
  localX2ApicNmi: 0xa, // 12 bytes
} as const;
const LEN = { localApic: 8, ioApic: 12, iso: 10, localApicNmi: 6, localX2Apic: 16, localX2ApicNmi: 12 } as const;

export const LAPIC_FLAG_ENABLED = 1 << 0;
/** MPS INTI flags (ACPI 6.5 table 5.26): polarity in bits 0-1, trigger mode in bits 2-3. */
export const INTI_ACTIVE_HIGH = 0b01;
export const INTI_EDGE = 0b01 << 2;
export const INTI_LEVEL = 0b11 << 2;
export const INTI_CONFORMS = 0;

/** Highest APIC ID an xAPIC entry (8-bit, 0xff = broadcast) may carry. */
export const MAX_XAPIC_ID = 254;
export const ISA_BUS = 0;
/** PIT (ISA IRQ 0) is wired to IOAPIC pin 2 on PCs; pin 0 carries the 8259's INTR. */
export const PIT_IRQ = 0;
export const PIT_GSI = 2;
/** ACPI SCI: ISA IRQ 9, level-triggered active-high (as on PIIX4/ICH chipsets). */
export const SCI_IRQ = 9;
export const NMI_LINT = 1;
const ALL_PROCESSORS_UID = 0xff;
const ALL_PROCESSORS_X2_UID = 0xffffffff;

export interface MadtOptions {
  cpus: number;
  ioapicId?: number;
  ioapicAddr?: number;
  lapicAddr?: number;
}

export function buildMadt(opts: MadtOptions): AcpiTable {
  const { cpus } = opts;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 0xffffffff) {
    throw new TableLayoutError(`cannot describe ${cpus} CPUs: the CPU count must be a positive integer`);
  }
  const xapicCpus = Math.min(cpus, MAX_XAPIC_ID + 1);
  const x2apicCpus = cpus - xapicCpus;
  const size =
    8 +
    xapicCpus * LEN.localApic +
    x2apicCpus * LEN.localX2Apic +
    LEN.ioApic +
    2 * LEN.iso +
    LEN.localApicNmi +
    (x2apicCpus ? LEN.localX2ApicNmi : 0);
  const w = new LeWriter(size);
  w.u32(0, opts.lapicAddr ?? LAPIC_BASE).u32(4, MADT_FLAG_PCAT_COMPAT);
  let at = 8;
  for (let id = 0; id < cpus; id++) {
    if (id <= MAX_XAPIC_ID) {
      // ACPI processor UID = APIC ID = vCPU index.
      w.u8(at, MADT_ENTRY.localApic).u8(at + 1, LEN.localApic).u8(at + 2, id).u8(at + 3, id).u32(at + 4, LAPIC_FLAG_ENABLED);
      at += LEN.localApic;
    } else {
      w.u8(at, MADT_ENTRY.localX2Apic).u8(at + 1, LEN.localX2Apic).u32(at + 4, id).u32(at + 8, LAPIC_FLAG_ENABLED).u32(at + 12, id);
      at += LEN.localX2Apic;
    }
  }
  w.u8(at, MADT_ENTRY.ioApic).u8(at + 1, LEN.ioApic).u8(at + 2, opts.ioapicId ?? 0);
  w.u32(at + 4, opts.ioapicAddr ?? IOAPIC_BASE).u32(at + 8, 0); // GSI base 0
  at += LEN.ioApic;
  for (const [irq, gsi, flags] of [
    [PIT_IRQ, PIT_GSI, INTI_ACTIVE_HIGH | INTI_EDGE],
    [SCI_IRQ, SCI_IRQ, INTI_ACTIVE_HIGH | INTI_LEVEL],
  ] as const) {
    w.u8(at, MADT_ENTRY.interruptSourceOverride).u8(at + 1, LEN.iso).u8(at + 2, ISA_BUS).u8(at + 3, irq);
    w.u32(at + 4, gsi).u16(at + 8, flags);
    at += LEN.iso;
  }
  w.u8(at, MADT_ENTRY.localApicNmi).u8(at + 1, LEN.localApicNmi).u8(at + 2, ALL_PROCESSORS_UID);
  w.u16(at + 3, INTI_CONFORMS).u8(at + 5, NMI_LINT);
  at += LEN.localApicNmi;
  if (x2apicCpus) {
    w.u8(at, MADT_ENTRY.localX2ApicNmi).u8(at + 1, LEN.localX2ApicNmi).u16(at + 2, INTI_CONFORMS);
    w.u32(at + 4, ALL_PROCESSORS_X2_UID).u8(at + 8, NMI_LINT);
  }
  return { signature: 'APIC', revision: MADT_REVISION, body: w.bytes };
}
