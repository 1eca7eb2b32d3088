// Multiboot v1 loader (Multiboot Specification 0.6.96): validate the header, load the kernel
// either from the a.out-kludge addresses in the header (flag 16) or from its ELF PT_LOAD
// segments, copy modules page-aligned above it, and build multiboot_info (memory sizes,
// cmdline, modules, e820-derived mmap, loader name) in low memory. The kernel starts in
// 32-bit protected mode with EAX = 0x2BADB002 and EBX = the multiboot_info address.
import type { GuestMemory } from '../memory/guest-memory.js';
import { E820_RAM, FOUR_GIB, KiB, LEGACY_HOLE_END } from '../memory/layout.js';
import { ByteReader, hex } from './bytes.js';
import { isElf, loadElfSegments, parseElf, physicalEntry } from './elf.js';
import { BootLayoutError, MultibootFormatError } from './errors.js';
import {
  findMultibootHeader,
  MBH_AOUT_KLUDGE,
  MBH_MEMORY_INFO,
  MBH_PAGE_ALIGN,
  MBH_REQUIRED_MASK,
  MBH_VIDEO_MODE,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_SEARCH_BYTES,
  type MultibootHeaderRef,
} from './multiboot-header.js';
import { BOOT_INFO_END, BOOT_INFO_START, BootArena, placeModulesAbove, type PhysRange } from './placement.js';
import type { BootInput, BootState } from './types.js';

export const BOOT_LOADER_NAME = 'irqbench';

/** Requirement bits (0-15) we satisfy: modules are always page aligned, memory info always given. */
const SUPPORTED_REQUIREMENTS = MBH_PAGE_ALIGN | MBH_MEMORY_INFO;

/** a.out kludge fields, relative to the header magic (spec 3.1.3). */
const AOUT = { headerAddr: 12, loadAddr: 16, loadEndAddr: 20, bssEndAddr: 24, entryAddr: 28, end: 32 } as const;

/** struct multiboot_info field offsets (spec 3.3), 116 bytes up to the framebuffer fields. */
export const MBI = {
  flags: 0,
  memLower: 4,
  memUpper: 8,
  bootDevice: 12,
  cmdline: 16,
  modsCount: 20,
  modsAddr: 24,
  mmapLength: 44,
  mmapAddr: 48,
  bootLoaderName: 64,
  size: 116,
} as const;

/** multiboot_info.flags bits saying which fields are valid. */
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MMAP = 1 << 6;
export const MBI_LOADER_NAME = 1 << 9;

/** Module entry: mod_start, mod_end (exclusive), string, reserved. */
export const MOD_ENTRY = { start: 0, end: 4, string: 8, size: 16 } as const;
/** mmap entry: size (of the rest, 20), base_addr u64, length u64, type u32; 24-byte stride. */
export const MMAP_ENTRY = { size: 0, base: 4, length: 12, type: 20, stride: 24 } as const;
const MMAP_ENTRY_SIZE_FIELD = 20;

export function loadMultiboot(memory: GuestMemory, input: BootInput): BootState {
  const kernel = input.kernel;
  const hdr = findMultibootHeader(kernel);
  if (!hdr) throw new MultibootFormatError(`no multiboot header in the first ${MULTIBOOT_SEARCH_BYTES} bytes`);
  if (!hdr.checksumOk) {
    throw new MultibootFormatError(`header at offset ${hex(hdr.offset)} has a bad checksum (magic + flags + checksum != 0)`);
  }
  checkRequirements(hdr.flags);

  const loaded = hdr.flags & MBH_AOUT_KLUDGE ? loadAout(memory, kernel, hdr) : loadElf(memory, kernel);
  if (loaded.ranges.some((r) => r.end > FOUR_GIB) || loaded.entry >= FOUR_GIB) {
    throw new BootLayoutError('multiboot kernels run in 32-bit mode; the image must load and start below 4 GiB');
  }
  const modules = placeModulesAbove(memory, input.modules, loaded.end);
  const arena = new BootArena(memory, BOOT_INFO_START, BOOT_INFO_END, loaded.ranges);

  const mbi = arena.alloc(MBI.size, 8, 'multiboot_info');
  const { lower, upper } = memorySizesKiB(memory);
  memory.writeU32(mbi + MBI.memLower, lower);
  memory.writeU32(mbi + MBI.memUpper, upper);
  memory.writeU32(mbi + MBI.cmdline, arena.cstring(input.cmdline, 'kernel command line'));

  const mods = modules.length ? arena.alloc(modules.length * MOD_ENTRY.size, 8, 'multiboot module list') : 0;
  modules.forEach((m, i) => {
    const e = mods + i * MOD_ENTRY.size;
    memory.writeU32(e + MOD_ENTRY.start, m.addr);
    memory.writeU32(e + MOD_ENTRY.end, m.addr + m.size);
    memory.writeU32(e + MOD_ENTRY.string, arena.cstring(m.cmdline, `module ${i} string`));
  });
  memory.writeU32(mbi + MBI.modsCount, modules.length);
  memory.writeU32(mbi + MBI.modsAddr, mods);

  const e820 = memory.layout.e820;
  const mmap = arena.alloc(e820.length * MMAP_ENTRY.stride, 8, 'multiboot memory map');
  e820.forEach((r, i) => {
    const e = mmap + i * MMAP_ENTRY.stride;
    memory.writeU32(e + MMAP_ENTRY.size, MMAP_ENTRY_SIZE_FIELD);
    memory.writeU64(e + MMAP_ENTRY.base, r.addr);
    memory.writeU64(e + MMAP_ENTRY.length, r.size);
    memory.writeU32(e + MMAP_ENTRY.type, r.type);
  });
  memory.writeU32(mbi + MBI.mmapLength, e820.length * MMAP_ENTRY.stride);
  memory.writeU32(mbi + MBI.mmapAddr, mmap);
  memory.writeU32(mbi + MBI.bootLoaderName, arena.cstring(BOOT_LOADER_NAME, 'boot loader name'));
  memory.writeU32(mbi + MBI.flags, MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);

  return {
    mode: 'protected32',
    rip: loaded.entry,
    regs: { rax: MULTIBOOT_BOOTLOADER_MAGIC, rbx: mbi },
    description: `multiboot ${loaded.kind}, entry ${hex(loaded.entry)}, multiboot_info at ${hex(mbi)}`,
  };
}

function checkRequirements(flags: number): void {
  if (flags & MBH_VIDEO_MODE) {
    throw new MultibootFormatError(
      'the kernel requires a video mode (header flag 2), which irqbench cannot provide (no framebuffer); clear that flag',
    );
  }
  const unknown = flags & MBH_REQUIRED_MASK & ~SUPPORTED_REQUIREMENTS;
  if (unknown) {
    throw new MultibootFormatError(`the kernel requires unknown features (header flags ${hex(unknown)}); refusing to boot it`);
  }
}

interface Loaded {
  kind: string;
  entry: number;
  /** End of the highest loaded byte (modules go above it). */
  end: number;
  ranges: PhysRange[];
}

/** Flag 16: load file bytes [load_addr, load_end_addr) positioned so the header lands at header_addr. */
function loadAout(memory: GuestMemory, kernel: Uint8Array, hdr: MultibootHeaderRef): Loaded {
  if (hdr.offset + AOUT.end > MULTIBOOT_SEARCH_BYTES) {
    throw new MultibootFormatError('a.out kludge fields extend past the first 8 KiB');
  }
  const r = new ByteReader(kernel, (m) => new MultibootFormatError(m));
  const at = hdr.offset;
  const headerAddr = r.u32(at + AOUT.headerAddr, 'header_addr');
  const loadAddr = r.u32(at + AOUT.loadAddr, 'load_addr');
  const loadEndAddr = r.u32(at + AOUT.loadEndAddr, 'load_end_addr');
  const bssEndAddr = r.u32(at + AOUT.bssEndAddr, 'bss_end_addr');
  const entry = r.u32(at + AOUT.entryAddr, 'entry_addr');
  if (loadAddr > headerAddr) throw new MultibootFormatError(`load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  const fileStart = hdr.offset - (headerAddr - loadAddr);
  if (fileStart < 0) {
    throw new MultibootFormatError(`header_addr - load_addr (${hex(headerAddr - loadAddr)}) exceeds the header's file offset`);
  }
  const loadEnd = loadEndAddr === 0 ? loadAddr + (kernel.length - fileStart) : loadEndAddr;
  if (loadEnd < loadAddr + (hdr.offset - fileStart) + AOUT.end) {
    throw new MultibootFormatError(`load_end_addr ${hex(loadEnd)} does not cover the multiboot header`);
  }
  const size = loadEnd - loadAddr;
  r.need(fileStart, size, 'a.out kludge image (load_addr..load_end_addr)');
  const bssEnd = bssEndAddr === 0 ? loadEnd : bssEndAddr;
  if (bssEnd < loadEnd) throw new MultibootFormatError(`bss_end_addr ${hex(bssEnd)} is below load_end_addr ${hex(loadEnd)}`);
  if (!memory.isRam(loadAddr, bssEnd - loadAddr)) {
    throw new BootLayoutError(
      `multiboot image ${hex(loadAddr)}-${hex(bssEnd)} is outside guest RAM; give the machine more memory`,
    );
  }
  if (entry < loadAddr || entry >= bssEnd) {
    throw new MultibootFormatError(`entry_addr ${hex(entry)} is outside the loaded image ${hex(loadAddr)}-${hex(bssEnd)}`);
  }
  memory.write(loadAddr, kernel.subarray(fileStart, fileStart + size));
  memory.fill(loadEnd, bssEnd - loadEnd, 0);
  return { kind: 'a.out kludge', entry, end: bssEnd, ranges: [{ start: loadAddr, end: bssEnd, what: 'kernel' }] };
}

function loadElf(memory: GuestMemory, kernel: Uint8Array): Loaded {
  if (!isElf(kernel)) {
    throw new MultibootFormatError('the kernel is neither ELF nor uses the a.out kludge (header flag 16)');
  }
  const elf = parseElf(kernel);
  const { high } = loadElfSegments(memory, elf, kernel);
  const ranges = elf.loads.map((s) => ({ start: s.paddr, end: s.paddr + s.memsz, what: `segment ${s.index}` }));
  return { kind: `ELF${elf.elfClass}`, entry: physicalEntry(elf), end: high, ranges };
}

/** mem_lower: KiB of RAM from 0 (at most 640); mem_upper: KiB of RAM contiguous from 1 MiB. */
function memorySizesKiB(memory: GuestMemory): { lower: number; upper: number } {
  const ram = memory.layout.e820.filter((e) => e.type === E820_RAM);
  const low = ram.find((e) => e.addr === 0);
  const high = ram.find((e) => e.addr === LEGACY_HOLE_END);
  return {
    lower: Math.min(640, Math.floor((low?.size ?? 0) / KiB)),
    upper: Math.min(0xffffffff, Math.floor((high?.size ?? 0) / KiB)),
  };
}
