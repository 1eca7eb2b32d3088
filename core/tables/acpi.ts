// Builds the ACPI tables a guest uses to find its CPUs, interrupt controllers and power
// management into guest memory, inside the BIOS area where Linux's RSDP scan finds them.
// Layout from the window's start: RSDP (16-byte aligned), FACS (64-byte aligned), DSDT, FADT,
// MADT, caller-supplied tables (e.g. MCFG), XSDT, RSDT. The RSDP points at both root tables;
// both list FADT, MADT and the extra tables; the FADT points at FACS and DSDT. Given a PCI
// host bridge (`pci`), the DSDT describes it as \_SB.PCI0 (dsdt.ts).
import type { GuestMemory } from '../memory/guest-memory.js';
import { encodeRsdp, encodeSdt, RSDP, rootTable, type AcpiTable } from './acpi-sdt.js';
import { ACPI_REGION_END, ACPI_REGION_START } from './bios-area.js';
import { Placer, TableLayoutError } from './encode.js';
import { buildDsdt, type AcpiPciHost } from './dsdt.js';
import { buildFacs, buildFadt, FACS_ALIGN, FACS_SIZE, type FadtOptions } from './fadt.js';
import { buildMadt } from './madt.js';

export type { AcpiTable } from './acpi-sdt.js';
export type { AcpiPciHost, AcpiPciRoute, AcpiWindow } from './dsdt.js';

export interface AcpiOptions {
  cpus: number;
  /** More tables to list in the XSDT/RSDT (the PCI work adds MCFG). */
  extraTables?: AcpiTable[];
  /** The PCI host bridge for the DSDT's \_SB.PCI0 (INTx routes, windows, ECAM); none: \_S5 only. */
  pci?: AcpiPciHost;
  ioapicId?: number;
  fadt?: FadtOptions;
  /** Window for the tables; defaults to the ACPI half of the BIOS area (0xE0000-0xEFFFF). */
  start?: number;
  end?: number;
}

export interface PlacedTable {
  signature: string;
  addr: number;
  length: number;
}

export interface AcpiTables {
  /** Physical address of the RSDP: give it to PVH guests and boot_params.acpi_rsdp_addr. */
  rsdpAddr: number;
  tables: PlacedTable[];
  /** First byte after the last table. */
  end: number;
}

const TABLE_ALIGN = 16;
/** Tables this builder owns; a caller supplying one of these would shadow ours. */
const GENERATED = new Set(['FACP', 'APIC', 'DSDT', 'XSDT', 'RSDT', 'FACS']);

export function buildAcpiTables(memory: GuestMemory, opts: AcpiOptions): AcpiTables {
  const start = opts.start ?? ACPI_REGION_START;
  const end = opts.end ?? ACPI_REGION_END;
  if (start % TABLE_ALIGN !== 0 || end <= start || end > 2 ** 32 || !memory.isRam(start, end - start)) {
    throw new TableLayoutError(`ACPI window 0x${start.toString(16)}-0x${end.toString(16)} is not 16-byte aligned RAM below 4 GiB`);
  }
  for (const t of opts.extraTables ?? []) {
    if (GENERATED.has(t.signature)) throw new TableLayoutError(`extra ACPI table ${t.signature} would replace a generated one`);
  }
  // Stale tables from an earlier build must not be found by a scanning guest.
  memory.fill(start, end - start, 0);

  const placer = new Placer(start, end, 'ACPI tables');
  const tables: PlacedTable[] = [];
  const rsdpAddr = placer.place(RSDP.size, TABLE_ALIGN, 'RSDP');
  const facsAddr = placer.place(FACS_SIZE, FACS_ALIGN, 'FACS');
  memory.write(facsAddr, buildFacs());
  tables.push({ signature: 'FACS', addr: facsAddr, length: FACS_SIZE });

  const put = (t: AcpiTable): number => {
    const bytes = encodeSdt(t);
    const addr = placer.place(bytes.length, TABLE_ALIGN, t.signature);
    memory.write(addr, bytes);
    tables.push({ signature: t.signature, addr, length: bytes.length });
    return addr;
  };
  const dsdt = put(buildDsdt(opts.pci));
  const listed = [
    put(buildFadt(facsAddr, dsdt, opts.fadt)),
    put(buildMadt({ cpus: opts.cpus, ioapicId: opts.ioapicId ?? 0 })),
    ...(opts.extraTables ?? []).map(put),
  ];
  const xsdt = put(rootTable('XSDT', listed));
  const rsdt = put(rootTable('RSDT', listed));
  memory.write(rsdpAddr, encodeRsdp(rsdt, xsdt));
  return { rsdpAddr, tables, end: placer.used };
}
