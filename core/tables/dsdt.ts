// The DSDT (ACPI 6.5 §5.2.11.1): \_S5 for power-off and, when the machine has a PCI host
// bridge, the PCI root complex an ACPI guest looks for instead of probing CF8 blindly:
//
//   Name (\_S5, Package { 5, 5, 0, 0 })                 SLP_TYP for PM1a/PM1b (fadt.ts)
//   Scope (\_SB) {
//     Device (PCI0) {                                   PCI Firmware 3.0 §4.1.1 host bridge
//       _HID PNP0A08 (PCI Express root), _CID PNP0A03 (PCI root), _SEG 0, _BBN 0, _UID 0
//       _CRS: bus 0..0; IO 0xCF8-0xCFF (config mechanism #1, consumed); the I/O windows
//             0x0000-0x0CF7 and 0x0D00-0xFFFF; memory 0xA0000-0xBFFFF (legacy VGA), the
//             32-bit BAR window below ECAM and the 64-bit one above RAM
//       _PRT: Package { (device << 16) | 0xFFFF, pin, 0, GSI } per INTx route — the GSI
//             form (ACPI 6.5 §6.2.13: Source = 0, Source Index = GSI), no link devices
//       Device (MRES) { _HID PNP0C02, _CRS: the ECAM window }  motherboard resources, so
//             Linux accepts the MCFG (PCI Firmware 3.0 §4.1.2 "reserved ... by _CRS")
//     }
//   }
//
// Everything PCI-specific comes from the caller (routes from the host bridge, windows from
// core/machine/pci-platform.ts); only the PC-wide I/O and VGA ranges are fixed here.
import { LEGACY_HOLE_START } from '../memory/layout.js';
import type { AcpiTable } from './acpi-sdt.js';
import * as aml from './aml.js';
import { TableLayoutError } from './encode.js';
import { S5_SLP_TYP } from './fadt.js';
import { dwordMemory, ioPort, qwordMemory, resourceTemplate, wordBusNumber, wordIo } from './resources.js';

export const DSDT_REVISION = 2; // 64-bit AML integers (ACPI 6.5 §5.2.11.1)

/** Hardware IDs: PCI Firmware 3.0 §4.1.1 (host bridges); PNP0C02 is the PnP ID for
 *  motherboard resources, where PCI Firmware 3.0 §4.1.2 wants the MCFG range reserved. */
export const PCI_EXPRESS_ROOT_HID = 'PNP0A08';
export const PCI_ROOT_CID = 'PNP0A03';
export const MOTHERBOARD_RESOURCES_HID = 'PNP0C02';
export const PCI_ROOT_PATH = '\\_SB.PCI0';
export const ECAM_RESERVATION_PATH = '\\_SB.PCI0.MRES';

/** Bus 0 is the only bus; segment 0 (the MCFG's only allocation). */
const ROOT_SEGMENT = 0;
const ROOT_BUS = 0;
const ROOT_UID = 0;
/** PCI configuration mechanism #1 ports 0xCF8-0xCFF, consumed by the bridge itself. */
const CONFIG_PORTS = { min: 0xcf8, max: 0xcf8, alignment: 1, length: 8 } as const;
/** I/O ranges forwarded to PCI: everything but the config ports (as on every PC chipset). */
const IO_WINDOWS = [
  { min: 0x0000, max: 0x0cf7 },
  { min: 0x0d00, max: 0xffff },
] as const;
/** Legacy VGA frame buffer window 0xA0000-0xBFFFF (PCI 3.0 §3.10, VGA palette/memory). */
const VGA_WINDOW = { min: LEGACY_HOLE_START, max: 0xbffff } as const;
/** _PRT entry (ACPI 6.5 §6.2.13): Address = device << 16 | 0xFFFF means any function. */
const PRT_ANY_FUNCTION = 0xffff;
const PRT_GSI_SOURCE = 0; // Source = Zero: Source Index is a GSI, not a link device index
const MAX_DEVICE = 31;
const MAX_PIN = 3; // INTA#..INTD# as 0..3

/** One INTx route of bus 0 (core/pci IntxRoute has these fields). */
export interface AcpiPciRoute {
  device: number;
  /** 0 = INTA# .. 3 = INTD#. */
  pin: number;
  /** Global system interrupt: the IOAPIC input (GSI base 0). */
  ioapicPin: number;
}

/** An address window [start, end). */
export interface AcpiWindow {
  start: number;
  end: number;
}

/** What the DSDT needs to describe the PCI host bridge. */
export interface AcpiPciHost {
  routes: readonly AcpiPciRoute[];
  ecam: AcpiWindow;
  /** Non-prefetchable BAR window below 4 GiB. */
  mmio32: AcpiWindow;
  /** BAR window above RAM; absent when the machine places no BARs there. */
  mmio64?: AcpiWindow;
}

/** DSDT with \_S5 and, given a host bridge, \_SB.PCI0. */
export function buildDsdt(pci?: AcpiPciHost): AcpiTable {
  const s5 = aml.name('_S5', aml.pkg(aml.integer(S5_SLP_TYP), aml.integer(S5_SLP_TYP), aml.integer(0), aml.integer(0)));
  const body = pci ? aml.concat(s5, aml.scope('\\_SB', pciRoot(pci))) : s5;
  return { signature: 'DSDT', revision: DSDT_REVISION, body };
}

function pciRoot(pci: AcpiPciHost): Uint8Array {
  checkWindow('32-bit MMIO', pci.mmio32, 2 ** 32);
  if (pci.mmio64) checkWindow('64-bit MMIO', pci.mmio64, Number.MAX_SAFE_INTEGER);
  checkWindow('ECAM', pci.ecam, Number.MAX_SAFE_INTEGER);
  const crs = resourceTemplate(
    wordBusNumber({ min: ROOT_BUS, max: ROOT_BUS }),
    ioPort(CONFIG_PORTS),
    ...IO_WINDOWS.map((w) => wordIo(w)),
    dwordMemory({ ...VGA_WINDOW, caching: 'cacheable' }),
    dwordMemory({ min: pci.mmio32.start, max: pci.mmio32.end - 1, caching: 'non-cacheable' }),
    ...(pci.mmio64 ? [qwordMemory({ min: pci.mmio64.start, max: pci.mmio64.end - 1, caching: 'cacheable' })] : []),
  );
  return aml.device(
    'PCI0',
    aml.name('_HID', aml.eisaId(PCI_EXPRESS_ROOT_HID)),
    aml.name('_CID', aml.eisaId(PCI_ROOT_CID)),
    aml.name('_SEG', aml.integer(ROOT_SEGMENT)),
    aml.name('_BBN', aml.integer(ROOT_BUS)),
    aml.name('_UID', aml.integer(ROOT_UID)),
    aml.name('_CRS', aml.buffer(crs)),
    aml.name('_PRT', prt(pci.routes)),
    ecamReservation(pci.ecam),
  );
}

function prt(routes: readonly AcpiPciRoute[]): Uint8Array {
  const seen = new Set<string>();
  const entries = routes.map(({ device, pin, ioapicPin }) => {
    const ok = (v: number, max: number): boolean => Number.isInteger(v) && v >= 0 && v <= max;
    if (!ok(device, MAX_DEVICE) || !ok(pin, MAX_PIN) || !ok(ioapicPin, 0xffffffff)) {
      throw new TableLayoutError(`PCI route device ${device} pin ${pin} -> GSI ${ioapicPin} cannot be described in a _PRT`);
    }
    const key = `${device}.${pin}`;
    if (seen.has(key)) throw new TableLayoutError(`PCI route for device ${device} pin ${pin} is listed twice`);
    seen.add(key);
    return aml.pkg(aml.integer((device << 16) | PRT_ANY_FUNCTION), aml.integer(pin), aml.integer(PRT_GSI_SOURCE), aml.integer(ioapicPin));
  });
  return aml.pkg(...entries);
}

/** PNP0C02 device whose _CRS consumes the ECAM window. */
function ecamReservation(ecam: AcpiWindow): Uint8Array {
  const range = { min: ecam.start, max: ecam.end - 1, usage: 'consumer', caching: 'non-cacheable' } as const;
  const desc = ecam.end <= 2 ** 32 ? dwordMemory(range) : qwordMemory(range);
  return aml.device(
    ECAM_RESERVATION_PATH.split('.').at(-1)!,
    aml.name('_HID', aml.eisaId(MOTHERBOARD_RESOURCES_HID)),
    aml.name('_CRS', aml.buffer(resourceTemplate(desc))),
  );
}

function checkWindow(what: string, w: AcpiWindow, limit: number): void {
  if (!Number.isSafeInteger(w.start) || !Number.isSafeInteger(w.end) || w.start < 0 || w.end <= w.start || w.end > limit) {
    throw new TableLayoutError(`${what} window 0x${w.start.toString(16)}-0x${w.end.toString(16)} cannot be described in the DSDT`);
  }
}
