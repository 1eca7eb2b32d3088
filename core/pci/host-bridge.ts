// PCI host bridge for bus 0: the guest reaches every function's config space either through
// configuration mechanism #1 (PCI 3.0 §3.2.2.3.2: a dword address latch at 0xCF8, data at
// 0xCFC-0xCFF with byte lanes selected by the port's low bits) or through the PCI Express
// ECAM window (PCIe Base §7.2.2: bus << 20 | device << 15 | function << 12 | register),
// announced with an ACPI MCFG table (PCI Firmware Spec 3.0 §4.1.2). The bridge owns slot
// allocation, its own host-bridge function at 00:00.0, INTx routing (intx-routing.ts) and,
// when given a BarMapper, the placement of every function's BARs on the machine's buses.
//
// Machine wiring: register configAddress at 0xCF8 (4 ports) and configData at 0xCFC (4 ports)
// on the port bus, ecam at ecamBase (ecamSize bytes) on the MMIO bus, mark the ECAM window
// reserved in e820 (Linux refuses MMCONFIG that is neither e820- nor ACPI-reserved), pass
// mcfgTable() in AcpiOptions.extraTables and turn intxRoutes() into MP-table entries: a bus
// entry "PCI   " plus one I/O interrupt entry per route (type INT, flags level/active-high,
// source bus = the PCI bus ID, source IRQ = route.mpSourceIrq, destination pin = ioapicPin).
// ACPI guests instead need a DSDT device \_SB.PCI0 (_HID PNP0A08, _CID PNP0A03, _SEG 0,
// _BBN 0, _CRS with the bus range, I/O windows and MMIO windows) whose _PRT lists, per
// route, Package { (device << 16) | 0xFFFF, pin, 0, ioapicPin } (the GSI form, no link
// devices), and a PNP0C02 resource for the ECAM window; core/tables/dsdt.ts writes that AML from intxRoutes().
import type { IoDevice } from '../bus/types.js';
import type { IrqLine } from '../irq/types.js';
import type { AcpiTable } from '../tables/acpi-sdt.js';
import { LeWriter } from '../tables/encode.js';
import type { BarMapper } from './bar-mapper.js';
import { allOnes } from './config-space.js';
import { PciConfigError, PciSlotError } from './errors.js';
import { DEFAULT_INTX_IOAPIC_PINS, IntxRouter, type IntxRoute } from './intx-routing.js';
import { PciFunction } from './pci-function.js';
import { HEADER_TYPE_MULTIFUNCTION, REG } from './regs.js';

export const CONFIG_ADDRESS_PORT = 0xcf8;
export const CONFIG_DATA_PORT = 0xcfc;
/** CONFIG_ADDRESS fields (PCI 3.0 §3.2.2.3.2, figure 3-2). */
export const CFG_ADDR_ENABLE = 0x80000000;
export const CFG_ADDR_BUS_SHIFT = 16;
export const CFG_ADDR_DEVICE_SHIFT = 11;
export const CFG_ADDR_FUNCTION_SHIFT = 8;
export const CFG_ADDR_REGISTER_MASK = 0xfc;
/** Bits 30:24 are reserved and bits 1:0 fixed 0 on Intel chipsets: they read back as 0. */
const CFG_ADDR_IMPLEMENTED = 0x80fffffc;
/** Port 0xCF9 (byte) is the chipset's Reset Control register, inside the CF8 dword. */
const RESET_CONTROL_OFFSET = 1;
const RESET_CONTROL_BITS = 0x0e; // SYS_RST, RST_CPU, FULL_RST (ICH9 datasheet 13.7.5)

/** ECAM: 4 KiB per function, 8 functions per device, 32 devices per bus (PCIe §7.2.2). */
export const ECAM_FUNCTION_SHIFT = 12;
export const ECAM_DEVICE_SHIFT = 15;
export const ECAM_BUS_SHIFT = 20;
export const ECAM_BUS_SIZE = 1 << ECAM_BUS_SHIFT;
/** Inside the 32-bit PCI hole (3 GiB up), below the IOAPIC; Q35 uses 0xB0000000 with less low RAM. */
export const DEFAULT_ECAM_BASE = 0xe0000000;
export const MCFG_REVISION = 1;

export const MAX_DEVICES = 32;
export const MAX_FUNCTIONS = 8;
/** 00:00.0 identity: Red Hat's generic "QEMU PCIe host bridge" (1b36:0008), no chipset quirks. */
export const HOST_BRIDGE_IDS = { vendorId: 0x1b36, deviceId: 0x0008, classCode: 0x060000 } as const;

export interface HostBridgeOptions {
  ecamBase?: number;
  /** Buses the ECAM window covers (1..256); only bus 0 is populated. */
  ecamBuses?: number;
  /** IOAPIC inputs of PIRQ lines A..D (default 16-19) and the machine's wire to each. */
  intxPins?: readonly number[];
  intxLine?(ioapicPin: number): IrqLine;
  /** Places BARs on the buses; without one the caller listens to each function's BarSet. */
  barMapper?: BarMapper;
  /** A byte write to port 0xCF9 (Reset Control); bit 2 with bit 1 requests a reset. */
  resetControl?(value: number): void;
}

export interface SlotAddress {
  device: number;
  function: number;
}

export function bdf(bus: number, device: number, fn: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(bus, 2)}:${h(device, 2)}.${fn}`;
}

export class PciHostBridge {
  readonly ecamBase: number;
  readonly ecamBuses: number;
  readonly ecamSize: number;
  readonly hostFunction: PciFunction;
  readonly intx: IntxRouter;
  readonly configAddress: IoDevice;
  readonly configData: IoDevice;
  readonly ecam: IoDevice;
  private readonly slots: (PciFunction | undefined)[] = new Array(MAX_DEVICES * MAX_FUNCTIONS);
  private address = 0;
  private resetControlValue = 0;
  readonly stats = {
    cf8Writes: 0,
    /** CF8 accesses that are not a dword at 0xCF8 (and not 0xCF9): reads float, writes drop. */
    cf8OtherAccesses: 0,
    cfcAccessesDisabled: 0,
    ecamAccesses: 0,
    /** Config reads of an absent bus/device/function (all-ones, a master abort). */
    absentReads: 0,
    absentWrites: 0,
    badSizeAccesses: 0,
  };

  constructor(private readonly opts: HostBridgeOptions = {}) {
    this.ecamBase = opts.ecamBase ?? DEFAULT_ECAM_BASE;
    this.ecamBuses = opts.ecamBuses ?? 1;
    if (!Number.isInteger(this.ecamBuses) || this.ecamBuses < 1 || this.ecamBuses > 256) {
      throw new PciConfigError(`ECAM bus count ${this.ecamBuses} is not 1..256`);
    }
    this.ecamSize = this.ecamBuses * ECAM_BUS_SIZE;
    if (!Number.isSafeInteger(this.ecamBase) || this.ecamBase < 0 || this.ecamBase % ECAM_BUS_SIZE !== 0) {
      throw new PciConfigError(`ECAM base 0x${this.ecamBase.toString(16)} is not 1 MiB aligned`);
    }
    const lineFor = opts.intxLine ?? (() => ({ set: () => {} }));
    this.intx = new IntxRouter(opts.intxPins ?? DEFAULT_INTX_IOAPIC_PINS, lineFor);
    this.hostFunction = new PciFunction({ name: 'host-bridge', header: { ...HOST_BRIDGE_IDS } });
    this.addFunction(this.hostFunction, { device: 0, function: 0 });

    this.configAddress = {
      name: 'pci-cf8',
      read: (o, s) => this.cf8Read(o, s),
      write: (o, s, v) => this.cf8Write(o, s, v),
    };
    this.configData = {
      name: 'pci-cfc',
      read: (o, s) => this.cfcAccess(o, s, undefined),
      write: (o, s, v) => void this.cfcAccess(o, s, v),
    };
    this.ecam = {
      name: 'pci-ecam',
      read: (o, s) => this.ecamAccess(o, s, undefined),
      write: (o, s, v) => void this.ecamAccess(o, s, v),
    };
  }

  /**
   * Put `fn` at a device/function (default: function 0 of the first free device from 1).
   * Adding function 1..7 needs function 0 and marks function 0 multi-function, since guests
   * only scan functions 1..7 of a multi-function device (PCI 3.0 §6.2.1).
   */
  addFunction(fn: PciFunction, at?: SlotAddress): SlotAddress {
    const slot = at ?? this.freeSlot();
    const { device, function: f } = slot;
    if (!Number.isInteger(device) || device < 0 || device >= MAX_DEVICES || !Number.isInteger(f) || f < 0 || f >= MAX_FUNCTIONS) {
      throw new PciSlotError(`PCI slot ${device}.${f} is outside 0..31.0..7`);
    }
    if (this.slots[device * MAX_FUNCTIONS + f]) throw new PciSlotError(`PCI slot ${bdf(0, device, f)} is taken by ${this.slots[device * MAX_FUNCTIONS + f]!.name}`);
    if (f > 0) {
      const f0 = this.slots[device * MAX_FUNCTIONS];
      if (!f0) throw new PciSlotError(`PCI function ${bdf(0, device, f)} needs function 0 of device ${device} first`);
      f0.config.set8(REG.headerType, f0.config.get8(REG.headerType) | HEADER_TYPE_MULTIFUNCTION);
      fn.config.set8(REG.headerType, fn.config.get8(REG.headerType) | HEADER_TYPE_MULTIFUNCTION);
    }
    this.slots[device * MAX_FUNCTIONS + f] = fn;
    if (fn.interruptPin !== 0) fn.connectIntx(this.intx.lineFor(device, fn.interruptPin));
    if (this.opts.barMapper) fn.bars.setListener(this.opts.barMapper.listenerFor(bdf(0, device, f)));
    return { device, function: f };
  }

  functionAt(bus: number, device: number, fn: number): PciFunction | undefined {
    if (bus !== 0 || device < 0 || device >= MAX_DEVICES || fn < 0 || fn >= MAX_FUNCTIONS) return undefined;
    return this.slots[device * MAX_FUNCTIONS + fn];
  }

  list(): { bdf: string; device: number; function: number; fn: PciFunction }[] {
    const out = [];
    for (let i = 0; i < this.slots.length; i++) {
      const fn = this.slots[i];
      if (fn) out.push({ bdf: bdf(0, i >> 3, i & 7), device: i >> 3, function: i & 7, fn });
    }
    return out;
  }

  /** MCFG body (PCI Firmware 3.0 table 4-2/4-3): 8 reserved bytes, one allocation for segment 0. */
  mcfgTable(): AcpiTable {
    const w = new LeWriter(8 + 16)
      .u64(8, this.ecamBase) // base address of the enhanced configuration mechanism
      .u16(16, 0) // PCI segment group
      .u8(18, 0) // start bus
      .u8(19, this.ecamBuses - 1); // end bus
    return { signature: 'MCFG', revision: MCFG_REVISION, body: w.bytes };
  }

  /** Every populated (device, pin) on bus 0 and where it lands, deduplicated across functions. */
  intxRoutes(): IntxRoute[] {
    const seen = new Map<string, IntxRoute>();
    for (const { device, fn } of this.list()) {
      const pin = fn.interruptPin;
      if (pin === 0) continue;
      const r = this.intx.route(0, device, pin - 1);
      seen.set(`${device}.${pin}`, r);
    }
    return [...seen.values()];
  }

  /** The CONFIG_ADDRESS latch as last written (reserved bits read 0). */
  get configAddressValue(): number {
    return this.address;
  }

  private freeSlot(): SlotAddress {
    for (let d = 1; d < MAX_DEVICES; d++) {
      if (!this.slots.slice(d * MAX_FUNCTIONS, (d + 1) * MAX_FUNCTIONS).some(Boolean)) return { device: d, function: 0 };
    }
    throw new PciSlotError('no free PCI device slot on bus 0');
  }

  private cf8Read(offset: number, size: number): number {
    if (offset === 0 && size === 4) return this.address;
    if (offset === RESET_CONTROL_OFFSET && size === 1) return this.resetControlValue;
    this.stats.cf8OtherAccesses++;
    return allOnes(size);
  }

  private cf8Write(offset: number, size: number, value: number): void {
    if (offset === 0 && size === 4) {
      this.stats.cf8Writes++;
      this.address = ((Number.isFinite(value) ? value : 0) & CFG_ADDR_IMPLEMENTED) >>> 0;
      return;
    }
    if (offset === RESET_CONTROL_OFFSET && size === 1) {
      this.resetControlValue = value & RESET_CONTROL_BITS;
      this.opts.resetControl?.(value & 0xff);
      return;
    }
    this.stats.cf8OtherAccesses++;
  }

  /** 0xCFC+n: byte lane n of the dword CONFIG_ADDRESS selects; disabled → a plain I/O miss. */
  private cfcAccess(offset: number, size: number, value: number | undefined): number {
    const a = this.address;
    if (!(a & CFG_ADDR_ENABLE)) {
      this.stats.cfcAccessesDisabled++;
      return allOnes(size);
    }
    const bus = (a >>> CFG_ADDR_BUS_SHIFT) & 0xff;
    const dev = (a >>> CFG_ADDR_DEVICE_SHIFT) & 0x1f;
    const fn = (a >>> CFG_ADDR_FUNCTION_SHIFT) & 0x7;
    return this.configAccess(bus, dev, fn, (a & CFG_ADDR_REGISTER_MASK) + offset, size, value);
  }

  private ecamAccess(offset: number, size: number, value: number | undefined): number {
    this.stats.ecamAccesses++;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.ecamSize) return this.absent(size, value);
    const bus = Math.floor(offset / ECAM_BUS_SIZE);
    const dev = (offset >>> ECAM_DEVICE_SHIFT) & 0x1f;
    const fn = (offset >>> ECAM_FUNCTION_SHIFT) & 0x7;
    return this.configAccess(bus, dev, fn, offset & 0xfff, size, value);
  }

  private configAccess(bus: number, dev: number, fnNo: number, reg: number, size: number, value: number | undefined): number {
    if (size !== 1 && size !== 2 && size !== 4) {
      this.stats.badSizeAccesses++;
      return value === undefined ? allOnes(size) : 0;
    }
    const fn = this.functionAt(bus, dev, fnNo);
    // A conventional function's config space ends at 0xFF; ECAM beyond it finds nothing.
    if (!fn || reg >= fn.config.size) return this.absent(size, value);
    if (value === undefined) return fn.config.read(reg, size);
    fn.config.write(reg, size, value);
    return 0;
  }

  private absent(size: number, value: number | undefined): number {
    if (value === undefined) {
      this.stats.absentReads++;
      return allOnes(size);
    }
    this.stats.absentWrites++;
    return 0;
  }
}
