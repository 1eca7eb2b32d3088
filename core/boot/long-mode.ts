// CPU scaffolding for entering a kernel directly in 64-bit long mode: identity-mapped page
// tables for the first 4 GiB (2 MiB pages) and a flat GDT with the selectors the Linux 64-bit
// boot protocol requires (boot.rst "64-bit BOOT PROTOCOL": __BOOT_CS = 0x10, __BOOT_DS = 0x18).
// Both live below 0x10000, which Linux never hands to its allocator (CONFIG_X86_RESERVE_LOW
// reserves the first 64 KiB) and so cannot clobber before it has switched to its own tables.
import type { GuestMemory } from '../memory/guest-memory.js';

export const BOOT_GDT_ADDR = 0x500; // just above the BIOS data area (0x400-0x4ff)
export const PML4_ADDR = 0x9000;
export const PDPT_ADDR = 0xa000;
/** Four page directories, 0xb000-0xefff, each mapping 1 GiB with 512 x 2 MiB pages. */
export const PD_ADDR = 0xb000;
export const PD_COUNT = 4;
export const PAGE_TABLES_END = PD_ADDR + PD_COUNT * 0x1000;

const PTE_PRESENT = 1n << 0n;
const PTE_WRITABLE = 1n << 1n;
/** PDE bit 7: this entry maps a 2 MiB page rather than pointing at a page table. */
const PDE_PAGE_SIZE = 1n << 7n;
const ENTRIES_PER_TABLE = 512;
const TWO_MIB = 2n * 1024n * 1024n;

export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

/** Segment descriptor (Intel SDM vol. 3, 3.4.5) from access byte, flags nibble, base, limit. */
export function gdtEntry(access: number, flags: number, base: number, limit: number): bigint {
  return (
    (BigInt(limit & 0xffff)) |
    (BigInt(base & 0xffffff) << 16n) |
    (BigInt(access & 0xff) << 40n) |
    (BigInt((limit >>> 16) & 0xf) << 48n) |
    (BigInt(flags & 0xf) << 52n) |
    (BigInt((base >>> 24) & 0xff) << 56n)
  );
}

/** P=1, DPL=0, S=1, type 0xb (execute/read, accessed); flags G=1, L=1: flat 64-bit code. */
export const GDT_CODE64 = gdtEntry(0x9b, 0xa, 0, 0xfffff);
/** P=1, DPL=0, S=1, type 0x3 (read/write, accessed); flags G=1, D/B=1: flat data. */
export const GDT_DATA = gdtEntry(0x93, 0xc, 0, 0xfffff);
/** Index 0 is the mandatory null descriptor; index 1 is unused so the selectors match Linux. */
const BOOT_GDT = [0n, 0n, GDT_CODE64, GDT_DATA];

export function writeBootGdt(memory: GuestMemory): { base: number; limit: number } {
  BOOT_GDT.forEach((d, i) => memory.writeU64(BOOT_GDT_ADDR + i * 8, d));
  return { base: BOOT_GDT_ADDR, limit: BOOT_GDT.length * 8 - 1 };
}

/** Build PML4 -> PDPT -> 4 PDs identity-mapping [0, 4 GiB); returns CR3. */
export function writeIdentityPageTables(memory: GuestMemory): number {
  memory.fill(PML4_ADDR, PAGE_TABLES_END - PML4_ADDR, 0);
  memory.writeU64(PML4_ADDR, BigInt(PDPT_ADDR) | PTE_PRESENT | PTE_WRITABLE);
  for (let d = 0; d < PD_COUNT; d++) {
    const pd = PD_ADDR + d * 0x1000;
    memory.writeU64(PDPT_ADDR + d * 8, BigInt(pd) | PTE_PRESENT | PTE_WRITABLE);
    for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
      const phys = BigInt(d * ENTRIES_PER_TABLE + i) * TWO_MIB;
      memory.writeU64(pd + i * 8, phys | PTE_PRESENT | PTE_WRITABLE | PDE_PAGE_SIZE);
    }
  }
  return PML4_ADDR;
}
