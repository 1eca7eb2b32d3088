// Where boot loaders put what they hand the kernel besides the kernel itself: a bump
// allocator for small boot structures in conventional memory (skipping whatever the kernel
// occupies) and page-aligned placement of modules/initrds above the kernel. Everything is
// checked against guest RAM so an oversized input ends in BootLayoutError, not a memory fault.
import type { GuestMemory } from '../memory/guest-memory.js';
import { FOUR_GIB, MiB } from '../memory/layout.js';
import { alignUp, hex } from './bytes.js';
import { BootInputError, BootLayoutError } from './errors.js';
import type { BootModule } from './types.js';

/**
 * Boot-info area for PVH start_info / multiboot_info and their strings and tables: above the
 * real-mode IVT and BIOS data area (0x0-0x4ff, which some kernels still read) and below
 * 0x9f000, where Linux assumes an EBDA may start and reserves everything up to 1 MiB.
 */
export const BOOT_INFO_START = 0x1000;
export const BOOT_INFO_END = 0x9f000;
export const PAGE_SIZE = 0x1000;

export interface PhysRange {
  start: number;
  end: number;
  what: string;
}

export function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Bump allocator over [start, end) that skips `avoid` ranges (the kernel's segments). */
export class BootArena {
  private cursor: number;

  constructor(
    private readonly memory: GuestMemory,
    private readonly start: number,
    private readonly end: number,
    private readonly avoid: PhysRange[],
  ) {
    this.cursor = start;
  }

  /** Reserve `size` zeroed bytes aligned to `align`. */
  alloc(size: number, align: number, what: string): number {
    let addr = alignUp(this.cursor, align);
    for (let moved = true; moved; ) {
      moved = false;
      for (const r of this.avoid) {
        if (overlaps({ start: addr, end: addr + size }, r)) {
          addr = alignUp(r.end, align);
          moved = true;
        }
      }
    }
    if (addr + size > this.end || !this.memory.isRam(addr, size)) {
      throw new BootLayoutError(
        `no room for the ${what} (${size} bytes) in low memory ${hex(this.start)}-${hex(this.end)}; ` +
          'shorten the command line or module list, or link the kernel above 1 MiB',
      );
    }
    this.cursor = addr + size;
    this.memory.fill(addr, size, 0);
    return addr;
  }

  /** Allocate and write a NUL-terminated string. */
  cstring(s: string, what: string): number {
    const bytes = encodeCString(s, what);
    const addr = this.alloc(bytes.length, 1, what);
    this.memory.write(addr, bytes);
    return addr;
  }
}

/** UTF-8 bytes of `s` plus a NUL; an embedded NUL would silently truncate it, so refuse. */
export function encodeCString(s: string, what: string): Uint8Array {
  const body = new TextEncoder().encode(s);
  if (body.includes(0)) throw new BootInputError(`the ${what} contains a NUL character`);
  const out = new Uint8Array(body.length + 1);
  out.set(body);
  return out;
}

export interface PlacedModule {
  addr: number;
  size: number;
  cmdline: string;
}

/**
 * Copy modules into RAM one after another, page aligned, starting above `above` (the end of
 * the kernel) and never below 1 MiB, all below 4 GiB because the boot protocols' module
 * fields are 32-bit (multiboot) or read by the kernel in 32-bit mode (PVH).
 */
export function placeModulesAbove(memory: GuestMemory, modules: BootModule[], above: number): PlacedModule[] {
  let addr = alignUp(Math.max(above, MiB), PAGE_SIZE);
  return modules.map((m, i) => {
    const size = m.data.length;
    if (addr + size > FOUR_GIB || !memory.isRam(addr, Math.max(size, 1))) {
      throw new BootLayoutError(
        `module ${i} (${(size / MiB).toFixed(1)} MiB) does not fit in guest RAM at ${hex(addr)}, ` +
          'above the kernel and below the PCI hole; give the machine more memory',
      );
    }
    memory.write(addr, m.data);
    const placed = { addr, size, cmdline: m.cmdline ?? '' };
    addr = alignUp(addr + size, PAGE_SIZE);
    return placed;
  });
}
