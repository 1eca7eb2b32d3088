// Firmware tables the machine writes into the BIOS area before boot: ACPI (RSDP, XSDT/RSDT,
// FADT, FACS, DSDT, MADT, plus caller tables such as MCFG) in 0xE0000-0xEFFFF and the MP
// table in 0xF0000-0xFFFFF. The RSDP address goes to the boot loader (PVH start_info,
// boot_params.acpi_rsdp_addr); other guests find both tables by scanning.
import type { GuestMemory } from '../memory/guest-memory.js';
import { buildAcpiTables, type AcpiOptions, type AcpiTables } from './acpi.js';
import { buildMpTable, type MpPciRoute, type MpTable } from './mptable.js';

export { buildAcpiTables, type AcpiOptions, type AcpiTables, type PlacedTable } from './acpi.js';
export type { AcpiTable } from './acpi-sdt.js';
export { buildMpTable, type MpTable, type MpTableOptions } from './mptable.js';
export { TableLayoutError } from './encode.js';
export * from './bios-area.js';

export interface FirmwareTables {
  rsdpAddr: number;
  acpi: AcpiTables;
  mp: MpTable;
}

/** Both table sets for `cpus` vCPUs, sharing one IOAPIC ID. */
export function buildFirmwareTables(
  memory: GuestMemory,
  opts: Omit<AcpiOptions, 'start' | 'end'> & { pciRoutes?: readonly MpPciRoute[] },
): FirmwareTables {
  const { pciRoutes, ...acpiOpts } = opts;
  const acpi = buildAcpiTables(memory, acpiOpts);
  const mp = buildMpTable(memory, { cpus: opts.cpus, ioapicId: opts.ioapicId ?? 0, pciRoutes });
  return { rsdpAddr: acpi.rsdpAddr, acpi, mp };
}
