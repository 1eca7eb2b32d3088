// Intel MultiProcessor Specification 1.4 tables, for guests that find CPUs and the IOAPIC the
// pre-ACPI way (Linux with acpi=off, small test kernels): the 16-byte floating pointer "_MP_"
// (chapter 4.1) in 0xF0000-0xFFFFF, followed by the "PCMP" configuration table (4.2) whose
// entries come in the order the spec requires: processors, bus, IOAPIC, I/O interrupt
// assignments, local interrupt assignments.
//
// The wiring matches the MADT: ISA IRQ 0 -> IOAPIC pin 2, IRQ 2 (the cascade) unmapped, the
// others identity, IRQ 9 level/active-high like the ACPI SCI override (one machine, two
// descriptions); ExtINT on the BSP's LINT0 (virtual wire), NMI on every LINT1.
//
// IOAPIC ID: 0, like the MADT and like the ID register of KVM's IOAPIC after reset. It equals
// CPU 0's APIC ID, which only matters on the P6-era serial APIC bus; with xAPIC (KVM reports
// local APIC version 0x14) IOAPIC and local APIC IDs are separate namespaces, and Linux skips
// IOAPIC renumbering on xAPIC. Entries must agree with the MADT, so the ID is shared.
// APIC IDs are 8-bit here and 0xFF is broadcast: only the first 255 vCPUs can be listed.
import type { GuestMemory } from '../memory/guest-memory.js';
import { IOAPIC_BASE, LAPIC_BASE } from '../memory/layout.js';
import { MPTABLE_REGION_END, MPTABLE_REGION_START } from './bios-area.js';
import { checksumByte, LeWriter, Placer, TableLayoutError } from './encode.js';
import { MAX_XAPIC_ID, PIT_GSI, PIT_IRQ, SCI_IRQ } from './madt.js';

export const MPF_SIGNATURE = '_MP_';
export const MPC_SIGNATURE = 'PCMP';
export const MP_SPEC_REV = 4; // 1.4
/** Floating pointer structure (MP spec table 4-1). */
export const MPF = { signature: 0, physPtr: 4, length: 8, specRev: 9, checksum: 10, feature1: 11, feature2: 12, size: 16 } as const;
/** Configuration table header (table 4-2). */
export const MPC = {
  signature: 0,
  baseLength: 4, // u16
  specRev: 6,
  checksum: 7,
  oemId: 8, // 8 bytes
  productId: 16, // 12 bytes
  oemTablePtr: 28,
  oemTableSize: 32,
  entryCount: 34, // u16
  lapicAddr: 36, // u32
  extLength: 40, // u16
  extChecksum: 42,
  size: 44,
} as const;

export const MP_ENTRY = { processor: 0, bus: 1, ioapic: 2, ioInterrupt: 3, localInterrupt: 4 } as const;
const ENTRY_LEN = { processor: 20, other: 8 } as const;
export const CPU_FLAG_ENABLED = 1 << 0;
export const CPU_FLAG_BSP = 1 << 1;
export const IOAPIC_FLAG_ENABLED = 1 << 0;
/** Versions KVM's emulated controllers report (arch/x86/kvm/lapic.c, ioapic.h). */
export const LAPIC_VERSION = 0x14;
export const IOAPIC_VERSION = 0x11;
/** CPUID(1) of QEMU's kvm64 model: family 15, model 6, stepping 1 (MP spec packs bits 0-11). */
export const CPU_SIGNATURE = (0xf << 8) | (6 << 4) | 1;
/** kvm64's CPUID(1).EDX: FPU..SSE2, notably APIC (bit 9). */
export const CPU_FEATURES = 0x078bfbfd;
/** Interrupt types (table 4-8) and the all-local-APICs destination. */
export const MP_INT = { INT: 0, NMI: 1, SMI: 2, ExtINT: 3 } as const;
export const MP_ALL_LAPICS = 0xff;
/** I/O interrupt flags (table 4-9): polarity bits 0-1, trigger bits 2-3; 0 = conforms to the bus (ISA: edge, high). */
export const MP_IRQ_CONFORMS = 0;
export const MP_IRQ_LEVEL_HIGH = 0b01 | (0b11 << 2);
export const ISA_BUS_ID = 0;
/** The MP table's bus ID for PCI bus 0 (bus IDs are the table's own numbering). */
export const PCI_BUS_ID = 1;
const PCI_BUS_TYPE = 'PCI   ';
const ISA_BUS_TYPE = 'ISA   ';
const ISA_IRQS = 16;
const ISA_CASCADE_IRQ = 2;

/** A PCI INTx route to describe (core/pci IntxRoute has these fields). */
export interface MpPciRoute {
  /** MP source IRQ for PCI: (device << 2) | (pin - 1, 0 = INTA#). */
  mpSourceIrq: number;
  ioapicPin: number;
}

export interface MpTableOptions {
  cpus: number;
  ioapicId?: number;
  /** PCI INTx routes on bus 0; adds a "PCI" bus entry (MP spec 1.4 §4.3.2, D.3). */
  pciRoutes?: readonly MpPciRoute[];
  start?: number;
  end?: number;
}

export interface MpTable {
  floatingPointerAddr: number;
  tableAddr: number;
  tableLength: number;
  /** How many vCPUs the table lists (at most 255). */
  listedCpus: number;
}

export function buildMpTable(memory: GuestMemory, opts: MpTableOptions): MpTable {
  const { cpus } = opts;
  if (!Number.isInteger(cpus) || cpus < 1) {
    throw new TableLayoutError(`cannot describe ${cpus} CPUs: the CPU count must be a positive integer`);
  }
  const start = opts.start ?? MPTABLE_REGION_START;
  const end = opts.end ?? MPTABLE_REGION_END;
  if (!memory.isRam(start, end - start)) throw new TableLayoutError('MP table window is not guest RAM');
  const ioapicId = opts.ioapicId ?? 0;
  const listedCpus = Math.min(cpus, MAX_XAPIC_ID + 1);

  const ioInts = [...Array(ISA_IRQS).keys()].filter((irq) => irq !== ISA_CASCADE_IRQ);
  const pciRoutes = opts.pciRoutes ?? [];
  const pciBuses = pciRoutes.length ? 1 : 0;
  const entries = listedCpus + 1 /* bus */ + pciBuses + 1 /* ioapic */ + ioInts.length + pciRoutes.length + 2; /* local */
  const length = MPC.size + listedCpus * ENTRY_LEN.processor + (entries - listedCpus) * ENTRY_LEN.other;
  const w = new LeWriter(length)
    .ascii(MPC.signature, MPC_SIGNATURE, 4)
    .u16(MPC.baseLength, length)
    .u8(MPC.specRev, MP_SPEC_REV)
    .ascii(MPC.oemId, 'IRQBENCH', 8)
    .ascii(MPC.productId, 'IRQBENCH PC', 12)
    .u16(MPC.entryCount, entries)
    .u32(MPC.lapicAddr, LAPIC_BASE);

  let at = MPC.size;
  for (let id = 0; id < listedCpus; id++) {
    const flags = CPU_FLAG_ENABLED | (id === 0 ? CPU_FLAG_BSP : 0);
    w.u8(at, MP_ENTRY.processor).u8(at + 1, id).u8(at + 2, LAPIC_VERSION).u8(at + 3, flags);
    w.u32(at + 4, CPU_SIGNATURE).u32(at + 8, CPU_FEATURES);
    at += ENTRY_LEN.processor;
  }
  w.u8(at, MP_ENTRY.bus).u8(at + 1, ISA_BUS_ID).ascii(at + 2, ISA_BUS_TYPE, 6);
  at += ENTRY_LEN.other;
  if (pciBuses) {
    w.u8(at, MP_ENTRY.bus).u8(at + 1, PCI_BUS_ID).ascii(at + 2, PCI_BUS_TYPE, 6);
    at += ENTRY_LEN.other;
  }
  w.u8(at, MP_ENTRY.ioapic).u8(at + 1, ioapicId).u8(at + 2, IOAPIC_VERSION).u8(at + 3, IOAPIC_FLAG_ENABLED).u32(at + 4, IOAPIC_BASE);
  at += ENTRY_LEN.other;
  for (const irq of ioInts) {
    const pin = irq === PIT_IRQ ? PIT_GSI : irq;
    const flags = irq === SCI_IRQ ? MP_IRQ_LEVEL_HIGH : MP_IRQ_CONFORMS;
    w.u8(at, MP_ENTRY.ioInterrupt).u8(at + 1, MP_INT.INT).u16(at + 2, flags);
    w.u8(at + 4, ISA_BUS_ID).u8(at + 5, irq).u8(at + 6, ioapicId).u8(at + 7, pin);
    at += ENTRY_LEN.other;
  }
  for (const r of pciRoutes) {
    w.u8(at, MP_ENTRY.ioInterrupt).u8(at + 1, MP_INT.INT).u16(at + 2, MP_IRQ_LEVEL_HIGH);
    w.u8(at + 4, PCI_BUS_ID).u8(at + 5, r.mpSourceIrq).u8(at + 6, ioapicId).u8(at + 7, r.ioapicPin);
    at += ENTRY_LEN.other;
  }
  for (const [type, dest, lint] of [
    [MP_INT.ExtINT, 0, 0], // BSP only: the 8259's INTR in virtual-wire mode
    [MP_INT.NMI, MP_ALL_LAPICS, 1],
  ] as const) {
    w.u8(at, MP_ENTRY.localInterrupt).u8(at + 1, type).u16(at + 2, MP_IRQ_CONFORMS);
    w.u8(at + 4, ISA_BUS_ID).u8(at + 5, 0).u8(at + 6, dest).u8(at + 7, lint);
    at += ENTRY_LEN.other;
  }
  w.u8(MPC.checksum, checksumByte(w.bytes));

  const placer = new Placer(start, end, 'MP tables');
  const floatingPointerAddr = placer.place(MPF.size, 16, 'MP floating pointer');
  const tableAddr = placer.place(length, 16, 'MP configuration table');
  const mpf = new LeWriter(MPF.size)
    .ascii(MPF.signature, MPF_SIGNATURE, 4)
    .u32(MPF.physPtr, tableAddr)
    .u8(MPF.length, 1) // in 16-byte units
    .u8(MPF.specRev, MP_SPEC_REV)
    .u8(MPF.feature1, 0) // 0: a configuration table is present (no default config)
    .u8(MPF.feature2, 0); // IMCRP clear: virtual-wire mode, no IMCR
  mpf.u8(MPF.checksum, checksumByte(mpf.bytes));

  memory.fill(start, end - start, 0);
  memory.write(floatingPointerAddr, mpf.bytes);
  memory.write(tableAddr, w.bytes);
  return { floatingPointerAddr, tableAddr, tableLength: length, listedCpus };
}
