// Firmware tables the machine writes into the BIOS area before boot: ACPI (RSDP, XSDT/RSDT,
// FADT, FACS, DSDT with the PCI host bridge, MADT, plus caller tables such as MCFG) in
// 0xE0000-0xEFFFF and the MP table in 0xF0000-0xFFFFF. The RSDP address goes to the boot loader (PVH start_info,
// boot_params.acpi_rsdp_addr); other guests find both tables by scanning.
import type { GuestMemory } from '../memory/guest-memory.js';
import { buildAcpiTables, type AcpiOptions, type AcpiPciHost, type AcpiPciRoute, type AcpiTables } from './acpi.js';
import { buildMpTable, type MpPciRoute, type MpTable } from './mptable.js';

export { buildAcpiTables, type AcpiOptions, type AcpiPciHost, type AcpiPciRoute, type AcpiTables, type PlacedTable } from './acpi.js';
export type { AcpiTable } from './acpi-sdt.js';
export { buildMpTable, type MpTable, type MpTableOptions } from './mptable.js';
export { TableLayoutError } from './encode.js';
export * from './bios-area.js';

export interface FirmwareTables {
  rsdpAddr: number;
  acpi: AcpiTables;
  mp: MpTable;
}

/** A PCI host bridge both tables describe: its INTx routes feed the _PRT and the MP table. */
export interface FirmwarePciHost extends AcpiPciHost {
  routes: readonly (AcpiPciRoute & MpPciRoute)[];
}

/** Both table sets for `cpus` vCPUs, sharing one IOAPIC ID and one list of PCI routes. */
export function buildFirmwareTables(
  memory: GuestMemory,
  opts: Omit<AcpiOptions, 'start' | 'end' | 'pci'> & { pci?: FirmwarePciHost },
): FirmwareTables {
  const acpi = buildAcpiTables(memory, opts);
  const mp = buildMpTable(memory, { cpus: opts.cpus, ioapicId: opts.ioapicId ?? 0, pciRoutes: opts.pci?.routes });
  return { rsdpAddr: acpi.rsdpAddr, acpi, mp };
}
