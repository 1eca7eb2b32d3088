// The machine's PCI platform: one host bridge (CF8/CFC and ECAM) on the buses, the BAR
// mapper that refuses BARs over RAM or over each other, and the "firmware" pass that
// programs every BAR and enables decoding before the guest starts, as SeaBIOS would.
//
// Address windows (all inside the 32-bit PCI hole that core/memory/layout.ts leaves free):
//   MMIO BARs   0xC0000000 .. ECAM base (0xE0000000), naturally aligned, largest first;
//               64-bit BARs too large for it go above the top of RAM (and above 4 GiB)
//   ECAM        0xE0000000, 1 MiB (bus 0), e820-reserved so Linux accepts the MCFG
//   I/O BARs    0xC000 .. 0xFFFF
import type { IoBus } from '../bus/io-bus.js';
import type { IrqLine } from '../irq/types.js';
import { BarMapper } from '../pci/bar-mapper.js';
import { PciHostBridge, CONFIG_ADDRESS_PORT, CONFIG_DATA_PORT, DEFAULT_ECAM_BASE } from '../pci/host-bridge.js';
import type { PciFunction } from '../pci/pci-function.js';
import { CMD_BUS_MASTER, CMD_IO, CMD_MEMORY, REG } from '../pci/regs.js';
import { FOUR_GIB, PCI_HOLE_START, type MemoryLayout } from '../memory/layout.js';
import { MachineConfigError } from './errors.js';

export const PCI_IO_WINDOW = { start: 0xc000, end: 0x10000 };
export const PCI_MMIO32_WINDOW = { start: PCI_HOLE_START, end: DEFAULT_ECAM_BASE };

export interface PciPlatform {
  bridge: PciHostBridge;
  mapper: BarMapper;
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
  const highRamEnd = Math.max(FOUR_GIB, ...opts.layout.regions.map((r) => r.gpa + r.size));
  return { bridge, mapper, assignResources: () => assignResources(bridge.list().map((e) => e.fn), highRamEnd) };
}

function assignResources(functions: readonly PciFunction[], highStart: number): void {
  let io = PCI_IO_WINDOW.start;
  let mem32 = PCI_MMIO32_WINDOW.start;
  let mem64 = align(highStart, 2 ** 30);
  const bars = functions.flatMap((fn) => fn.bars.list().map((bar) => ({ fn, def: bar.def })));
  bars.sort((a, b) => b.def.size - a.def.size);
  for (const { fn, def } of bars) {
    const reg = REG.bar0 + def.index * 4;
    let addr: number;
    if (def.kind === 'io') {
      addr = align(io, def.size);
      if (addr + def.size > PCI_IO_WINDOW.end) throw new MachineConfigError(`${fn.name}: no I/O space left for BAR${def.index} (${def.size} bytes)`);
      io = addr + def.size;
    } else if (align(mem32, def.size) + def.size <= PCI_MMIO32_WINDOW.end) {
      addr = align(mem32, def.size);
      mem32 = addr + def.size;
    } else if (def.kind === 'mem64') {
      addr = align(mem64, def.size);
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
