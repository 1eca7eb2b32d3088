// The machine's PCI platform: one host bridge (CF8/CFC and ECAM) on the buses, the BAR
// mapper that refuses BARs over RAM or over each other, and the "firmware" pass that
// programs every BAR and enables decoding before the guest starts, as SeaBIOS would.
//
// Address windows (all inside the 32-bit PCI hole that core/memory/layout.ts leaves free):
//   MMIO BARs   0xC0000000 .. ECAM base (0xE0000000), naturally aligned, largest first;
//               64-bit BARs too large for it go above the top of RAM (and above 4 GiB),
//               1 GiB aligned, in a window of PCI_MMIO64_SIZE
//   ECAM        0xE0000000, 1 MiB (bus 0), e820-reserved so Linux accepts the MCFG
//   I/O BARs    0xC000 .. 0xFFFF
// pciWindows() gives these windows to the DSDT's \_SB.PCI0._CRS (core/tables/dsdt.ts).
import type { IoBus } from '../bus/io-bus.js';
import type { IrqLine } from '../irq/types.js';
import { BarMapper } from '../pci/bar-mapper.js';
import { PciHostBridge, CONFIG_ADDRESS_PORT, CONFIG_DATA_PORT, DEFAULT_ECAM_BASE } from '../pci/host-bridge.js';
import type { PciFunction } from '../pci/pci-function.js';
import { CMD_BUS_MASTER, CMD_IO, CMD_MEMORY, REG } from '../pci/regs.js';
import { FOUR_GIB, GiB, PCI_HOLE_START, type MemoryLayout } from '../memory/layout.js';
import { MachineConfigError } from './errors.js';

export const PCI_IO_WINDOW = { start: 0xc000, end: 0x10000 };
export const PCI_MMIO32_WINDOW = { start: PCI_HOLE_START, end: DEFAULT_ECAM_BASE };
/** Size of the 64-bit BAR window above RAM (QEMU q35's default pci-hole64-size). */
export const PCI_MMIO64_SIZE = 32 * GiB;
const PCI_MMIO64_ALIGN = GiB;

/** A window [start, end) of guest-physical (or I/O port) addresses. */
export interface PciWindow {
  start: number;
  end: number;
}

export interface PciWindows {
  io: PciWindow;
  mmio32: PciWindow;
  /** 64-bit BARs: from the top of RAM (at least 4 GiB), 1 GiB aligned. */
  mmio64: PciWindow;
}

/** The BAR windows of a machine with this memory layout. */
export function pciWindows(layout: MemoryLayout): PciWindows {
  const highRamEnd = Math.max(FOUR_GIB, ...layout.regions.map((r) => r.gpa + r.size));
  const start = align(highRamEnd, PCI_MMIO64_ALIGN);
  return { io: { ...PCI_IO_WINDOW }, mmio32: { ...PCI_MMIO32_WINDOW }, mmio64: { start, end: start + PCI_MMIO64_SIZE } };
}

export interface PciPlatform {
  bridge: PciHostBridge;
  mapper: BarMapper;
  windows: PciWindows;
  /** Program BARs and command registers of every function, as firmware does before boot. */
  assignResources(): void;
}

const align = (v: number, a: number): number => Math.ceil(v / a) * a;

export function createPciPlatform(opts: {
  pio: IoBus;
  mmio: IoBus;
  layout: MemoryLayout;
  intxLine(ioapicPin: number): IrqLine;
  onReset(): void;
}): PciPlatform {
  const overlapsRam = (base: number, len: number): boolean =>
    opts.layout.regions.some((r) => base < r.gpa + r.size && r.gpa < base + len);
  const mapper = new BarMapper({ io: opts.pio, mmio: opts.mmio, overlapsRam });
  const bridge = new PciHostBridge({ intxLine: opts.intxLine, barMapper: mapper, resetControl: opts.onReset });
  opts.pio.register(CONFIG_ADDRESS_PORT, 4, bridge.configAddress);
  opts.pio.register(CONFIG_DATA_PORT, 4, bridge.configData);
  opts.mmio.register(bridge.ecamBase, bridge.ecamSize, bridge.ecam);
  const windows = pciWindows(opts.layout);
  return { bridge, mapper, windows, assignResources: () => assignResources(bridge.list().map((e) => e.fn), windows) };
}

function assignResources(functions: readonly PciFunction[], windows: PciWindows): void {
  let io = windows.io.start;
  let mem32 = windows.mmio32.start;
  let mem64 = windows.mmio64.start;
  const bars = functions.flatMap((fn) => fn.bars.list().map((bar) => ({ fn, def: bar.def })));
  bars.sort((a, b) => b.def.size - a.def.size);
  for (const { fn, def } of bars) {
    const reg = REG.bar0 + def.index * 4;
    let addr: number;
    if (def.kind === 'io') {
      addr = align(io, def.size);
      if (addr + def.size > windows.io.end) throw new MachineConfigError(`${fn.name}: no I/O space left for BAR${def.index} (${def.size} bytes)`);
      io = addr + def.size;
    } else if (align(mem32, def.size) + def.size <= windows.mmio32.end) {
      addr = align(mem32, def.size);
      mem32 = addr + def.size;
    } else if (def.kind === 'mem64') {
      addr = align(mem64, def.size);
      if (addr + def.size > windows.mmio64.end) throw new MachineConfigError(`${fn.name}: no 64-bit MMIO space left for BAR${def.index} (${def.size} bytes)`);
      mem64 = addr + def.size;
    } else {
      throw new MachineConfigError(`${fn.name}: BAR${def.index} (${def.size} bytes) does not fit in the 32-bit MMIO window; make it 64-bit or smaller`);
    }
    fn.config.write(reg, 4, (addr % 2 ** 32) >>> 0 | (def.kind === 'io' ? 1 : 0));
    if (def.kind === 'mem64') fn.config.write(reg + 4, 4, Math.floor(addr / 2 ** 32));
  }
  for (const fn of functions) {
    const kinds = new Set(fn.bars.list().map((b) => b.def.kind));
    let cmd = fn.config.read(REG.command, 2);
    if (kinds.has('io')) cmd |= CMD_IO;
    if (kinds.has('mem32') || kinds.has('mem64')) cmd |= CMD_MEMORY;
    cmd |= CMD_BUS_MASTER;
    fn.config.write(REG.command, 2, cmd);
  }
}
