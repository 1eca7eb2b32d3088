// Guest-physical memory map of an x86 PC: where RAM lives (below and above the PCI hole),
// which ranges are reserved (BIOS area, LAPIC/IOAPIC, PCI MMIO hole) and the e820 view the
// boot loaders hand to guests. Pure data: KVM slots and the SharedArrayBuffer follow it.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Start of the 32-bit PCI MMIO hole; RAM above this is relocated above 4 GiB. */
export const PCI_HOLE_START = 3 * GiB;
export const FOUR_GIB = 4 * GiB;
/** Legacy VGA / option ROM / BIOS area, reported reserved in e820. */
export const LEGACY_HOLE_START = 0xa0000;
export const LEGACY_HOLE_END = 0x100000;
export const BIOS_AREA_START = 0xe0000;
/** PCI Express ECAM window for bus 0 (core/pci/host-bridge), reserved so Linux accepts the MCFG. */
export const PCI_ECAM_BASE = 0xe0000000;
export const PCI_ECAM_SIZE = 0x100000;
export const IOAPIC_BASE = 0xfec00000;
export const LAPIC_BASE = 0xfee00000;
/** KVM needs three pages for the VMX TSS and one for the identity map, inside the 4 GiB hole. */
export const KVM_TSS_ADDR = 0xfffbd000;
export const KVM_IDENTITY_MAP_ADDR = 0xfffbc000;

export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;

export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

/** A range of guest RAM backed by one contiguous piece of the guest-memory buffer. */
export interface RamRegion {
  gpa: number;
  size: number;
  /** Offset of this region inside the guest-memory SharedArrayBuffer view. */
  offset: number;
}

export interface MemoryLayout {
  ramSize: number;
  regions: RamRegion[];
  e820: E820Entry[];
}

/** Lay out `ramSize` bytes of RAM: low RAM up to the PCI hole, the rest from 4 GiB. */
export function pcLayout(ramSize: number): MemoryLayout {
  if (!Number.isSafeInteger(ramSize) || ramSize < 2 * MiB || ramSize % (2 * MiB) !== 0) {
    throw new RangeError(`RAM size must be a positive multiple of 2 MiB, got ${ramSize}`);
  }
  const low = Math.min(ramSize, PCI_HOLE_START);
  const high = ramSize - low;
  const regions: RamRegion[] = [{ gpa: 0, size: low, offset: 0 }];
  if (high > 0) regions.push({ gpa: FOUR_GIB, size: high, offset: low });
  const e820: E820Entry[] = [
    { addr: 0, size: LEGACY_HOLE_START, type: E820_RAM },
    { addr: BIOS_AREA_START, size: LEGACY_HOLE_END - BIOS_AREA_START, type: E820_RESERVED },
    { addr: LEGACY_HOLE_END, size: low - LEGACY_HOLE_END, type: E820_RAM },
    { addr: PCI_ECAM_BASE, size: PCI_ECAM_SIZE, type: E820_RESERVED },
    { addr: IOAPIC_BASE, size: 0x1000, type: E820_RESERVED },
    { addr: LAPIC_BASE, size: 0x1000, type: E820_RESERVED },
  ];
  if (high > 0) e820.push({ addr: FOUR_GIB, size: high, type: E820_RAM });
  return { ramSize, regions, e820 };
}
