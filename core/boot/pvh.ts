// PVH direct boot (Xen's x86 "HVM direct boot ABI", docs/misc/pvh.pandoc): load an ELF kernel's
// PT_LOAD segments at their physical addresses, find the 32-bit entry point in its
// XEN_ELFNOTE_PHYS32_ENTRY note, and hand the kernel an hvm_start_info (cmdline, modules with
// the initrd first, e820-style memory map, RSDP) in ebx, entering in 32-bit protected mode
// with paging off. Structure layouts: xen/include/public/arch-x86/hvm/start_info.h.
import type { GuestMemory } from '../memory/guest-memory.js';
import { ByteReader, hex } from './bytes.js';
import { XEN_ELFNOTE_PHYS32_ENTRY, XEN_NOTE_NAME } from './detect.js';
import { loadElfSegments, parseElf, type ElfImage } from './elf.js';
import { PvhFormatError } from './errors.js';
import { BOOT_INFO_END, BOOT_INFO_START, BootArena, placeModulesAbove } from './placement.js';
import type { BootInput, BootState } from './types.js';

export const HVM_START_MAGIC_VALUE = 0x336ec578;
export const HVM_START_INFO_VERSION = 1;

/** struct hvm_start_info (version 1), 56 bytes. */
export const START_INFO = {
  magic: 0x00, // u32
  version: 0x04, // u32
  flags: 0x08, // u32, SIF_* (none apply to an HVM guest we start)
  nrModules: 0x0c, // u32
  modlistPaddr: 0x10, // u64
  cmdlinePaddr: 0x18, // u64
  rsdpPaddr: 0x20, // u64
  memmapPaddr: 0x28, // u64 (version 1)
  memmapEntries: 0x30, // u32 (version 1)
  reserved: 0x34, // u32
  size: 0x38,
} as const;

/** struct hvm_modlist_entry, 32 bytes. */
export const MODLIST_ENTRY = { paddr: 0x00, size: 0x08, cmdlinePaddr: 0x10, reserved: 0x18, size_: 0x20 } as const;

/** struct hvm_memmap_table_entry, 24 bytes; types are the e820 types (XEN_HVM_MEMMAP_TYPE_*). */
export const MEMMAP_ENTRY = { addr: 0x00, size: 0x08, type: 0x10, reserved: 0x14, size_: 0x18 } as const;

/** The physical entry point from the XEN_ELFNOTE_PHYS32_ENTRY note (4- or 8-byte descriptor). */
export function pvhEntryPoint(elf: ElfImage): number {
  const note = elf.notes.find((n) => n.name === XEN_NOTE_NAME && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note) {
    throw new PvhFormatError('no XEN_ELFNOTE_PHYS32_ENTRY note; build Linux with CONFIG_PVH=y or boot the bzImage');
  }
  const r = new ByteReader(note.desc, (m) => new PvhFormatError(m));
  let entry: number;
  if (note.desc.length === 4) entry = r.u32(0, 'PHYS32_ENTRY');
  else if (note.desc.length === 8) {
    const v = r.u64(0, 'PHYS32_ENTRY');
    if (v > 0xffffffffn) throw new PvhFormatError(`PHYS32_ENTRY ${hex(v)} is above 4 GiB`);
    entry = Number(v);
  } else {
    throw new PvhFormatError(`PHYS32_ENTRY note descriptor is ${note.desc.length} bytes, expected 4 or 8`);
  }
  const inside = elf.loads.some((s) => entry >= s.paddr && entry < s.paddr + s.memsz);
  if (!inside) throw new PvhFormatError(`PHYS32_ENTRY ${hex(entry)} is not inside any PT_LOAD segment`);
  return entry;
}

export function loadPvh(memory: GuestMemory, input: BootInput): BootState {
  const elf = parseElf(input.kernel);
  const entry = pvhEntryPoint(elf);
  const { high } = loadElfSegments(memory, elf, input.kernel);

  const modules = placeModulesAbove(memory, input.modules, high);
  const avoid = elf.loads.map((s) => ({ start: s.paddr, end: s.paddr + s.memsz, what: `segment ${s.index}` }));
  const arena = new BootArena(memory, BOOT_INFO_START, BOOT_INFO_END, avoid);

  const info = arena.alloc(START_INFO.size, 8, 'hvm_start_info');
  const cmdline = arena.cstring(input.cmdline, 'kernel command line');

  const modlist = modules.length ? arena.alloc(modules.length * MODLIST_ENTRY.size_, 8, 'PVH module list') : 0;
  modules.forEach((m, i) => {
    const e = modlist + i * MODLIST_ENTRY.size_;
    memory.writeU64(e + MODLIST_ENTRY.paddr, m.addr);
    memory.writeU64(e + MODLIST_ENTRY.size, m.size);
    memory.writeU64(e + MODLIST_ENTRY.cmdlinePaddr, m.cmdline ? arena.cstring(m.cmdline, `module ${i} command line`) : 0);
  });

  const e820 = memory.layout.e820;
  const memmap = arena.alloc(e820.length * MEMMAP_ENTRY.size_, 8, 'PVH memory map');
  e820.forEach((r, i) => {
    const e = memmap + i * MEMMAP_ENTRY.size_;
    memory.writeU64(e + MEMMAP_ENTRY.addr, r.addr);
    memory.writeU64(e + MEMMAP_ENTRY.size, r.size);
    memory.writeU32(e + MEMMAP_ENTRY.type, r.type);
  });

  memory.writeU32(info + START_INFO.magic, HVM_START_MAGIC_VALUE);
  memory.writeU32(info + START_INFO.version, HVM_START_INFO_VERSION);
  memory.writeU32(info + START_INFO.flags, 0);
  memory.writeU32(info + START_INFO.nrModules, modules.length);
  memory.writeU64(info + START_INFO.modlistPaddr, modlist);
  memory.writeU64(info + START_INFO.cmdlinePaddr, cmdline);
  memory.writeU64(info + START_INFO.rsdpPaddr, input.rsdpAddr);
  memory.writeU64(info + START_INFO.memmapPaddr, memmap);
  memory.writeU32(info + START_INFO.memmapEntries, e820.length);

  return {
    mode: 'protected32',
    rip: entry,
    regs: { rbx: info },
    description: `PVH ELF${elf.elfClass}, entry ${hex(entry)}, start_info at ${hex(info)}`,
  };
}
