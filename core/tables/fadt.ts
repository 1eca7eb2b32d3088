// FADT and FACS (ACPI 6.5 sections 5.2.9, 5.2.10); the DSDT they point at is dsdt.ts.
//
// Why a full FADT and not HW_REDUCED_ACPI: hardware-reduced mode would spare us the PM1
// registers, but Linux then treats the machine as legacy-free. acpi_generic_reduced_hw_init()
// swaps the 8259 for null_legacy_pic and skips PIT/HPET setup; with nr_legacy_irqs() == 0,
// mp_config_acpi_legacy_irqs() maps no ISA IRQs, so a legacy ttyS0 on IRQ 4 gets no interrupt
// unless every ISA device is declared in AML (the Hyper-V TDX code in Linux works around the
// same breakage). This workbench is about ISA IRQs, the PIC, the PIT and the IOAPIC, so the
// FADT describes a PC:
//  - SCI_INT 9 (matching the MADT override), SMI_CMD 0: no SMM, the machine is always in ACPI
//    mode, so ACPICA never tries an ACPI_ENABLE handshake.
//  - PM1a event block (4 bytes) and control block (2 bytes) at I/O 0x600/0x604 (QEMU q35's
//    addresses): ACPICA requires both outside reduced mode. The device behind them is tiny
//    (PM1 status/enable, PM1 control with SCI_EN = 1, SLP_EN + SLP_TYP 5 = power off). Until it
//    exists, ports that read as all-ones still show SCI_EN set and Linux boots normally.
//  - No PM timer (optional since ACPI 5.0A; ACPICA accepts 0): Linux uses TSC/kvmclock. No GPEs.
//  - P_LVL2_LAT > 100 and P_LVL3_LAT > 1000: C2/C3 unsupported, so Linux never touches P_BLK.
//  - IAPC_BOOT_ARCH: no 8042 (Linux skips i8042 probing), VGA not present, no CMOS RTC (Linux
//    registers no rtc_cmos; kvmclock gives wall time). Callers can override it.
//  - A FACS, which non-reduced ACPI expects (global lock, waking vector).
//  - The DSDT's \_S5 advertises S5_SLP_TYP, so `poweroff` knows which SLP_TYP to write.
import type { AcpiTable } from './acpi-sdt.js';
import { LeWriter } from './encode.js';
import { SCI_IRQ } from './madt.js';

export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 5; // ACPI 6.5
export const FADT_SIZE = 276; // whole table, header included
/** Field offsets from the start of the table (ACPI 6.5 table 5.9). */
export const FADT = {
  firmwareCtrl: 36,
  dsdt: 40,
  preferredPmProfile: 45,
  sciInt: 46,
  smiCmd: 48,
  pm1aEvtBlk: 56,
  pm1aCntBlk: 64,
  pmTmrBlk: 76,
  pm1EvtLen: 88,
  pm1CntLen: 89,
  pmTmrLen: 91,
  pLvl2Lat: 96,
  pLvl3Lat: 98,
  iapcBootArch: 109,
  flags: 112,
  minorVersion: 131,
  xFirmwareCtrl: 132,
  xDsdt: 140,
  xPm1aEvtBlk: 148, // GAS, 12 bytes
  xPm1aCntBlk: 172, // GAS
  xPmTmrBlk: 208, // GAS
  hypervisorVendorId: 268, // u64
} as const;

/** FADT fixed feature flags (table 5.10). */
export const FADT_FLAG = {
  WBINVD: 1 << 0,
  PROC_C1: 1 << 2,
  PWR_BUTTON: 1 << 4, // set = no fixed-feature power button
  SLP_BUTTON: 1 << 5, // set = no fixed-feature sleep button
  FIX_RTC: 1 << 6, // set = RTC wake status not in PM1
  HEADLESS: 1 << 12,
  HW_REDUCED_ACPI: 1 << 20,
} as const;
const FLAGS = FADT_FLAG.WBINVD | FADT_FLAG.PROC_C1 | FADT_FLAG.PWR_BUTTON | FADT_FLAG.SLP_BUTTON | FADT_FLAG.FIX_RTC | FADT_FLAG.HEADLESS;

/** IA-PC boot architecture flags (table 5.11). */
export const IAPC_BOOT_ARCH = {
  LEGACY_DEVICES: 1 << 0,
  I8042: 1 << 1,
  VGA_NOT_PRESENT: 1 << 2,
  MSI_NOT_SUPPORTED: 1 << 3,
  PCIE_ASPM_CONTROLS: 1 << 4,
  CMOS_RTC_NOT_PRESENT: 1 << 5,
} as const;
export const DEFAULT_IAPC_BOOT_ARCH = IAPC_BOOT_ARCH.VGA_NOT_PRESENT | IAPC_BOOT_ARCH.CMOS_RTC_NOT_PRESENT;

export const DEFAULT_PM1A_EVT_PORT = 0x600;
export const DEFAULT_PM1A_CNT_PORT = 0x604;
const PM1_EVT_LEN = 4; // 2-byte status + 2-byte enable
const PM1_CNT_LEN = 2;
const C2_UNSUPPORTED_LATENCY = 101;
const C3_UNSUPPORTED_LATENCY = 1001;
const GAS_SYSTEM_IO = 1;
const GAS_ACCESS_WORD = 2;
const GAS_ACCESS_DWORD = 3;
export const HYPERVISOR_VENDOR_ID = 'IRQBENCH';

export interface FadtOptions {
  pm1aEvtPort?: number;
  pm1aCntPort?: number;
  /** Optional ACPI PM timer (4-byte, 24-bit counter) if the machine implements one. */
  pmTimerPort?: number;
  iapcBootArch?: number;
}

export function buildFadt(facsAddr: number, dsdtAddr: number, opts: FadtOptions = {}): AcpiTable {
  const evt = opts.pm1aEvtPort ?? DEFAULT_PM1A_EVT_PORT;
  const cnt = opts.pm1aCntPort ?? DEFAULT_PM1A_CNT_PORT;
  const body = new LeWriter(FADT_SIZE);
  body
    .u32(FADT.firmwareCtrl, facsAddr)
    .u32(FADT.dsdt, dsdtAddr)
    .u8(FADT.preferredPmProfile, 0) // unspecified
    .u16(FADT.sciInt, SCI_IRQ)
    .u32(FADT.smiCmd, 0)
    .u32(FADT.pm1aEvtBlk, evt)
    .u32(FADT.pm1aCntBlk, cnt)
    .u8(FADT.pm1EvtLen, PM1_EVT_LEN)
    .u8(FADT.pm1CntLen, PM1_CNT_LEN)
    .u16(FADT.pLvl2Lat, C2_UNSUPPORTED_LATENCY)
    .u16(FADT.pLvl3Lat, C3_UNSUPPORTED_LATENCY)
    .u16(FADT.iapcBootArch, opts.iapcBootArch ?? DEFAULT_IAPC_BOOT_ARCH)
    .u32(FADT.flags, FLAGS)
    .u8(FADT.minorVersion, FADT_MINOR_REVISION)
    .u64(FADT.xFirmwareCtrl, facsAddr)
    .u64(FADT.xDsdt, dsdtAddr)
    .ascii(FADT.hypervisorVendorId, HYPERVISOR_VENDOR_ID, 8);
  gas(body, FADT.xPm1aEvtBlk, evt, PM1_EVT_LEN * 8);
  gas(body, FADT.xPm1aCntBlk, cnt, PM1_CNT_LEN * 8);
  if (opts.pmTimerPort !== undefined) {
    body.u32(FADT.pmTmrBlk, opts.pmTimerPort).u8(FADT.pmTmrLen, 4);
    gas(body, FADT.xPmTmrBlk, opts.pmTimerPort, 32, GAS_ACCESS_DWORD);
  }
  return { signature: 'FACP', revision: FADT_REVISION, body: body.bytes.subarray(36) };
}

/** Generic Address Structure (table 5.1) for an I/O port register block. */
function gas(w: LeWriter, off: number, port: number, bits: number, access = GAS_ACCESS_WORD): void {
  w.u8(off, GAS_SYSTEM_IO).u8(off + 1, bits).u8(off + 2, 0).u8(off + 3, access).u64(off + 4, port);
}

/** FACS (table 5.14): no header checksum, must be 64-byte aligned. */
export const FACS_SIZE = 64;
export const FACS_ALIGN = 64;
export const FACS_VERSION = 2;
export function buildFacs(): Uint8Array {
  return new LeWriter(FACS_SIZE).ascii(0, 'FACS', 4).u32(4, FACS_SIZE).u8(32, FACS_VERSION).bytes;
}

/** SLP_TYP value the DSDT's \_S5 advertises; a PM1a_CNT write of it with SLP_EN means power off. */
export const S5_SLP_TYP = 5;
