// ELF32/ELF64 little-endian x86 parser for kernel images (System V gABI, "ELF-64 Object File
// Format" 1.5): file header -> program headers -> PT_LOAD segments and PT_NOTE notes. Used by
// the PVH and multiboot loaders, which copy PT_LOAD segments to their physical addresses.
// Every offset and size is checked against the file, so a hostile image ends in
// ElfFormatError, and segments are checked against guest RAM before anything is written.
import type { GuestMemory } from '../memory/guest-memory.js';
import { ByteReader, hex } from './bytes.js';
import { BootLayoutError, ElfFormatError } from './errors.js';

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
const EI_CLASS = 4;
const EI_DATA = 5;
const EI_VERSION = 6;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
export const EM_386 = 3;
export const EM_X86_64 = 62;
/** e_phnum value meaning "real count is in section 0" (gABI); kernels never need it. */
const PN_XNUM = 0xffff;

export const PT_LOAD = 1;
export const PT_NOTE = 4;

/** Header field offsets/sizes per class (gABI "ELF Header", "Program Header"). */
const LAYOUT = {
  32: { ehsize: 52, entry: 24, phoff: 28, phentsize: 42, phnum: 44, phsize: 32 },
  64: { ehsize: 64, entry: 24, phoff: 32, phentsize: 54, phnum: 56, phsize: 56 },
} as const;

export interface ElfSegment {
  index: number;
  type: number;
  flags: number;
  offset: number;
  /** Virtual address; a bigint because x86-64 kernels link at 0xffffffff8xxxxxxx. */
  vaddr: bigint;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfNote {
  /** Owner name without its terminating NUL ("Xen", "GNU"). */
  name: string;
  type: number;
  desc: Uint8Array;
}

export interface ElfImage {
  elfClass: 32 | 64;
  machine: number;
  type: number;
  entry: bigint;
  segments: ElfSegment[];
  loads: ElfSegment[];
  notes: ElfNote[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((v, i) => bytes[i] === v);
}

export function parseElf(bytes: Uint8Array): ElfImage {
  const r = new ByteReader(bytes, (m) => new ElfFormatError(m));
  if (!isElf(bytes)) throw new ElfFormatError('missing \\x7fELF magic');
  const cls = r.u8(EI_CLASS, 'EI_CLASS');
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new ElfFormatError(`unknown ELF class ${cls}`);
  const elfClass = cls === ELFCLASS32 ? 32 : 64;
  const data = r.u8(EI_DATA, 'EI_DATA');
  if (data !== ELFDATA2LSB) throw new ElfFormatError('big-endian ELF is not an x86 kernel');
  if (r.u8(EI_VERSION, 'EI_VERSION') !== EV_CURRENT) throw new ElfFormatError('unknown ELF version');

  const L = LAYOUT[elfClass];
  r.need(0, L.ehsize, `ELF${elfClass} file header`);
  const type = r.u16(16, 'e_type');
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw new ElfFormatError(`e_type ${type} is not an executable (object file or core dump?)`);
  }
  const machine = r.u16(18, 'e_machine');
  if (machine !== EM_386 && machine !== EM_X86_64) {
    throw new ElfFormatError(`e_machine ${machine} is not x86 (expected ${EM_386} or ${EM_X86_64})`);
  }
  const entry = elfClass === 32 ? BigInt(r.u32(L.entry, 'e_entry')) : r.u64(L.entry, 'e_entry');
  const phoff = elfClass === 32 ? r.u32(L.phoff, 'e_phoff') : r.u64n(L.phoff, 'e_phoff');
  const phentsize = r.u16(L.phentsize, 'e_phentsize');
  const phnum = r.u16(L.phnum, 'e_phnum');
  if (phnum === 0) throw new ElfFormatError('no program headers (is this a relocatable object?)');
  if (phnum === PN_XNUM) throw new ElfFormatError('extended program header count (PN_XNUM) is not supported');
  if (phentsize < L.phsize) {
    throw new ElfFormatError(`e_phentsize ${phentsize} is smaller than an ELF${elfClass} program header (${L.phsize})`);
  }
  r.need(phoff, phnum * phentsize, `program header table (${phnum} entries)`);

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) segments.push(readPhdr(r, elfClass, phoff + i * phentsize, i));

  const loads = segments.filter((s) => s.type === PT_LOAD);
  for (const s of loads) {
    if (s.filesz > s.memsz) {
      throw new ElfFormatError(`PT_LOAD segment ${s.index}: p_filesz ${hex(s.filesz)} exceeds p_memsz ${hex(s.memsz)}`);
    }
    r.need(s.offset, s.filesz, `PT_LOAD segment ${s.index} data`);
    if (!Number.isSafeInteger(s.paddr + s.memsz)) {
      throw new ElfFormatError(`PT_LOAD segment ${s.index}: p_paddr + p_memsz overflows`);
    }
  }
  const notes = segments.filter((s) => s.type === PT_NOTE).flatMap((s) => readNotes(r, s));
  return { elfClass, machine, type, entry, segments, loads, notes };
}

function readPhdr(r: ByteReader, cls: 32 | 64, at: number, index: number): ElfSegment {
  const f = (name: string): string => `program header ${index} ${name}`;
  if (cls === 32) {
    return {
      index,
      type: r.u32(at, f('p_type')),
      offset: r.u32(at + 4, f('p_offset')),
      vaddr: BigInt(r.u32(at + 8, f('p_vaddr'))),
      paddr: r.u32(at + 12, f('p_paddr')),
      filesz: r.u32(at + 16, f('p_filesz')),
      memsz: r.u32(at + 20, f('p_memsz')),
      flags: r.u32(at + 24, f('p_flags')),
      align: r.u32(at + 28, f('p_align')),
    };
  }
  return {
    index,
    type: r.u32(at, f('p_type')),
    flags: r.u32(at + 4, f('p_flags')),
    offset: r.u64n(at + 8, f('p_offset')),
    vaddr: r.u64(at + 16, f('p_vaddr')),
    paddr: r.u64n(at + 24, f('p_paddr')),
    filesz: r.u64n(at + 32, f('p_filesz')),
    memsz: r.u64n(at + 40, f('p_memsz')),
    align: r.u64n(at + 48, f('p_align')),
  };
}

/**
 * Notes are {namesz, descsz, type, name, desc} with name and desc each padded to 4 bytes
 * (gABI "Note Section"); a segment declaring p_align 8 pads to 8 (GNU property notes).
 */
function readNotes(r: ByteReader, seg: ElfSegment): ElfNote[] {
  const where = `PT_NOTE segment ${seg.index}`;
  r.need(seg.offset, seg.filesz, `${where} data`);
  const pad = seg.align === 8 ? 8 : 4;
  const end = seg.offset + seg.filesz;
  const notes: ElfNote[] = [];
  let pos = seg.offset;
  while (pos < end) {
    if (end - pos < 12) throw new ElfFormatError(`${where}: truncated note header at ${hex(pos)}`);
    const namesz = r.u32(pos, `${where} n_namesz`);
    const descsz = r.u32(pos + 4, `${where} n_descsz`);
    const type = r.u32(pos + 8, `${where} n_type`);
    const nameAt = pos + 12;
    const descAt = nameAt + align(namesz, pad);
    const next = descAt + align(descsz, pad);
    if (nameAt + namesz > end || descAt + descsz > end) {
      throw new ElfFormatError(`${where}: note at ${hex(pos)} runs past the end of the segment`);
    }
    const nameBytes = r.slice(nameAt, namesz, `${where} note name`);
    if (namesz > 0 && nameBytes[namesz - 1] !== 0) {
      throw new ElfFormatError(`${where}: note name at ${hex(nameAt)} is not NUL-terminated`);
    }
    const name = Buffer.from(nameBytes.subarray(0, Math.max(0, namesz - 1))).toString('latin1');
    notes.push({ name, type, desc: r.slice(descAt, descsz, `${where} note descriptor`) });
    pos = next;
  }
  return notes;
}

function align(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** Physical extent [low, high) covered by the PT_LOAD segments. */
export function loadExtent(elf: ElfImage): { low: number; high: number } {
  const segs = elf.loads.filter((s) => s.memsz > 0);
  if (segs.length === 0) throw new ElfFormatError('no PT_LOAD segment with contents');
  return {
    low: Math.min(...segs.map((s) => s.paddr)),
    high: Math.max(...segs.map((s) => s.paddr + s.memsz)),
  };
}

/**
 * Copy every PT_LOAD segment to guest memory at p_paddr and zero its bss (memsz - filesz).
 * All segments are checked against RAM first so a bad image leaves memory untouched.
 */
export function loadElfSegments(memory: GuestMemory, elf: ElfImage, bytes: Uint8Array): { low: number; high: number } {
  const extent = loadExtent(elf);
  for (const s of elf.loads) {
    if (s.memsz > 0 && !memory.isRam(s.paddr, s.memsz)) {
      throw new BootLayoutError(
        `ELF segment ${s.index} at physical ${hex(s.paddr)} (${s.memsz} bytes) is outside guest RAM; ` +
          'give the machine more memory or link the kernel at a lower physical address',
      );
    }
  }
  for (const s of elf.loads) {
    if (s.memsz === 0) continue;
    memory.write(s.paddr, bytes.subarray(s.offset, s.offset + s.filesz));
    memory.fill(s.paddr + s.filesz, s.memsz - s.filesz, 0);
  }
  return extent;
}

/**
 * The entry point as a physical address. Kernels linked high (vaddr != paddr) give a virtual
 * e_entry; like GRUB, translate it through the PT_LOAD segment whose virtual range holds it.
 */
export function physicalEntry(elf: ElfImage): number {
  for (const s of elf.loads) {
    if (elf.entry >= s.vaddr && elf.entry < s.vaddr + BigInt(s.memsz)) {
      return s.paddr + Number(elf.entry - s.vaddr);
    }
  }
  if (elf.entry > 0xffffffffn) {
    throw new ElfFormatError(`entry point ${hex(elf.entry)} is outside every segment and above 4 GiB`);
  }
  return Number(elf.entry);
}
