// The irq-lab PCI function: identity, BARs and interrupt capabilities from the profile
// entry (docs/irq-lab.md). BAR0 holds the registers (4 KiB); the MSI-X table and PBA go to
// the BARs and offsets the layout names, like an assigned device's, sharing a BAR through
// a BarRegionMap when the layout puts both in one (or, in separate BARs, each alone).
// Each MSI-X BAR is the smallest power of two >= 4 KiB that holds what it serves; 32-bit
// unless that would exceed 256 MiB, then 64-bit. MSI (64-bit, per-vector masking) is added
// when the profile asks for it; the function always has INTA#.
import type { MsixLayoutConfig } from '../machine/config.js';
import { MachineConfigError } from '../machine/errors.js';
import { BarRegionMap } from '../pci/bar-region.js';
import type { BarDefinition } from '../pci/bar.js';
import type { MsiCapability } from '../pci/msi.js';
import { MSIX_ENTRY_SIZE, msixPbaBytes, type MsixCapability } from '../pci/msix.js';
import { PciFunction } from '../pci/pci-function.js';
import type { IoDevice } from '../bus/types.js';
import type { VectorSender } from '../pci/vectors.js';
import {
  BAR0_SIZE, DEFAULT_MSIX_LAYOUT, DEFAULT_MSIX_VECTORS, IRQ_LAB_CLASS, IRQ_LAB_DEVICE_ID, IRQ_LAB_INTX_PIN, IRQ_LAB_REVISION,
  IRQ_LAB_VENDOR_ID,
} from './regs.js';

const MIN_BAR_SIZE = 4096;
const MAX_MEM32_BAR = 256 * 2 ** 20;

export interface IrqLabFunction {
  fn: PciFunction;
  msix: MsixCapability;
  msi: MsiCapability | undefined;
}

export function msixLayoutOf(cfg: { msix?: MsixLayoutConfig }): MsixLayoutConfig {
  return cfg.msix ?? { vectors: DEFAULT_MSIX_VECTORS, ...DEFAULT_MSIX_LAYOUT };
}

const pow2AtLeast = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, MIN_BAR_SIZE)));

export function buildIrqLabFunction(opts: {
  name: string;
  msix: MsixLayoutConfig;
  msiVectors?: number;
  registers: IoDevice;
  /** Where vectors the VMM itself raises go (the MSI groups' trigger); bound later. */
  sender: VectorSender;
}): IrqLabFunction {
  const l = opts.msix;
  if (l.tableBar === 0 || l.pbaBar === 0) throw new MachineConfigError(`${opts.name}: BAR0 holds the registers; put the MSI-X table and PBA in BAR1..5`);
  const msiVectors = opts.msiVectors;
  if (msiVectors !== undefined && (msiVectors < 1 || msiVectors > 32 || (msiVectors & (msiVectors - 1)) !== 0)) {
    throw new MachineConfigError(`${opts.name}: msiVectors must be 1, 2, 4, 8, 16 or 32 (MSI allocates powers of two), got ${msiVectors}`);
  }
  const ends = new Map<number, number>();
  const grow = (bar: number, end: number): void => void ends.set(bar, Math.max(ends.get(bar) ?? 0, end));
  grow(l.tableBar, l.tableOffset + l.vectors * MSIX_ENTRY_SIZE);
  grow(l.pbaBar, l.pbaOffset + msixPbaBytes(l.vectors));
  const maps = new Map<number, BarRegionMap>();
  const bars: BarDefinition[] = [{ index: 0, kind: 'mem32', size: BAR0_SIZE, handler: opts.registers }];
  for (const [index, end] of [...ends].sort((a, b) => a[0] - b[0])) {
    const size = pow2AtLeast(end);
    const map = new BarRegionMap(`${opts.name}-bar${index}`, size);
    maps.set(index, map);
    bars.push({ index, kind: size > MAX_MEM32_BAR ? 'mem64' : 'mem32', size, handler: map });
  }
  let fn: PciFunction;
  try {
    fn = new PciFunction({
      name: opts.name,
      header: {
        vendorId: IRQ_LAB_VENDOR_ID, deviceId: IRQ_LAB_DEVICE_ID, classCode: IRQ_LAB_CLASS, revision: IRQ_LAB_REVISION,
        subsystemVendorId: IRQ_LAB_VENDOR_ID, subsystemId: IRQ_LAB_DEVICE_ID, interruptPin: IRQ_LAB_INTX_PIN,
      },
      bars,
    });
  } catch (cause) {
    throw new MachineConfigError(`${opts.name}: the MSI-X layout does not fit the BARs: ${(cause as Error).message}`, { cause });
  }
  const msix = fn.addMsix(l, { sender: opts.sender });
  for (const r of msix.regions()) maps.get(r.bar)!.add(r.offset, r.length, r.device);
  const msi = msiVectors === undefined ? undefined : fn.addMsi({ vectors: msiVectors, addr64: true, perVectorMask: true, sender: opts.sender });
  return { fn, msix, msi };
}
