// How the legacy BIOS area (0xE0000-0xFFFFF, RAM-backed but reported reserved in e820 by
// memory/layout.ts, so guests never reuse it) is shared between the firmware tables. Guests
// find both tables by scanning: Linux looks for the ACPI RSDP on 16-byte boundaries in
// 0xE0000-0xFFFFF and for the MP floating pointer in 0xF0000-0xFFFFF (MP spec 1.4, 4.0), so
// ACPI takes the lower 64 KiB and the MP table the upper 64 KiB.
import { BIOS_AREA_START, LEGACY_HOLE_END } from '../memory/layout.js';

export const ACPI_REGION_START = BIOS_AREA_START; // 0xe0000
export const ACPI_REGION_END = 0xf0000;
export const MPTABLE_REGION_START = 0xf0000;
export const MPTABLE_REGION_END = LEGACY_HOLE_END; // 0x100000
