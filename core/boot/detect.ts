// Recognising what a "kernel" file really is, from magic bytes only, before any loader runs.
// Kernels report which boot protocols they support (PVH note, multiboot header, bzImage
// setup header); common non-kernels (compressed files, disk and CD images) are named so the
// error can tell the user what they passed and what to pass instead. Never throws: format
// problems found while sniffing travel in `error` and the chosen loader re-raises them.
import { isElf, parseElf, EM_386, EM_X86_64, type ElfImage } from './elf.js';
import { formatProtocol, MIN_PROTOCOL, summarizeBzImage, type BzImageSummary } from './bzimage-header.js';
import { findMultiboot2Header, findMultibootHeader, MBH_AOUT_KLUDGE, type MultibootHeaderRef } from './multiboot-header.js';
import { matchesAt } from './bytes.js';
import { UnsupportedImageError } from './errors.js';
import { VmmError } from '../errors.js';

export type BootProtocol = 'pvh' | 'multiboot' | 'bzimage';

export type ImageFormat =
  | 'elf'
  | 'bzimage'
  | 'multiboot-aout'
  | 'multiboot2'
  | 'gzip'
  | 'xz'
  | 'zstd'
  | 'bzip2'
  | 'iso9660'
  | 'qcow2'
  | 'gpt-disk'
  | 'mbr-disk'
  | 'pe'
  | 'empty'
  | 'unknown';

export interface ImageInfo {
  format: ImageFormat;
  /** What was detected, for messages: "ELF64 x86-64 kernel with a PVH entry note". */
  description: string;
  /** Protocols this image can be booted with, in the order `auto` prefers them. */
  protocols: BootProtocol[];
  elf?: { elfClass: 32 | 64; machine: number; pvhNote: boolean };
  multiboot?: MultibootHeaderRef;
  bzImage?: BzImageSummary;
  /** What to do instead, when the image (or a protocol the user asked for) cannot boot. */
  hint?: string;
  /** A format error met while sniffing (e.g. malformed ELF); the loader re-raises it. */
  error?: VmmError;
}

/** XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h): 32-bit physical PVH entry point. */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const XEN_NOTE_NAME = 'Xen';

export function hasPvhNote(elf: ElfImage): boolean {
  return elf.notes.some((n) => n.name === XEN_NOTE_NAME && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
}

/** Magics at fixed offsets of files people mistake for kernels. */
const FOREIGN: { format: ImageFormat; at: number; magic: number[] | string; description: string; hint: string }[] = [
  { format: 'gzip', at: 0, magic: [0x1f, 0x8b], description: 'gzip-compressed data', hint: 'decompress it first (for Linux, boot arch/x86/boot/bzImage rather than a compressed vmlinux)' },
  { format: 'xz', at: 0, magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], description: 'xz-compressed data', hint: 'decompress it first (for Linux, boot arch/x86/boot/bzImage)' },
  { format: 'zstd', at: 0, magic: [0x28, 0xb5, 0x2f, 0xfd], description: 'zstd-compressed data', hint: 'decompress it first (for Linux, boot arch/x86/boot/bzImage)' },
  { format: 'bzip2', at: 0, magic: 'BZh', description: 'bzip2-compressed data', hint: 'decompress it first' },
  { format: 'qcow2', at: 0, magic: [0x51, 0x46, 0x49, 0xfb], description: 'a qcow2 disk image', hint: 'irqbench boots kernels directly and has no disk firmware; pass the kernel (bzImage, PVH ELF or multiboot) instead' },
];
const ISO_MAGIC = { at: 0x8001, magic: 'CD001' };
const GPT_MAGIC = { at: 512, magic: 'EFI PART' };
const MBR_SIGNATURE = { at: 510, magic: [0x55, 0xaa] };
const PE_MAGIC = { at: 0, magic: 'MZ' };
const DISK_HINT = 'irqbench has no disk firmware; extract the kernel (and initrd) from the image and pass those';

export function detectImage(bytes: Uint8Array): ImageInfo {
  if (bytes.length === 0) {
    return { format: 'empty', description: 'an empty file', protocols: [], hint: 'check the kernel path' };
  }
  if (isElf(bytes)) return detectElf(bytes);
  const bz = summarizeBzImage(bytes);
  if (bz) return detectBzImage(bz);
  for (const f of FOREIGN) {
    if (matchesAt(bytes, f.at, f.magic)) return { format: f.format, description: f.description, protocols: [], hint: f.hint };
  }
  const mb = findMultibootHeader(bytes);
  if (mb) {
    const aout = (mb.flags & MBH_AOUT_KLUDGE) !== 0;
    return {
      format: 'multiboot-aout',
      description: aout ? 'a multiboot kernel (a.out kludge)' : 'a non-ELF file with a multiboot header but no a.out kludge',
      protocols: ['multiboot'],
      multiboot: mb,
    };
  }
  if (findMultiboot2Header(bytes) !== undefined) {
    return { format: 'multiboot2', description: 'a multiboot2 kernel', protocols: [], hint: 'multiboot2 is not supported; add a multiboot v1 header or a PVH note' };
  }
  if (matchesAt(bytes, ISO_MAGIC.at, ISO_MAGIC.magic)) {
    return { format: 'iso9660', description: 'an ISO 9660 CD image', protocols: [], hint: DISK_HINT };
  }
  if (matchesAt(bytes, GPT_MAGIC.at, GPT_MAGIC.magic)) {
    return { format: 'gpt-disk', description: 'a GPT-partitioned disk image', protocols: [], hint: DISK_HINT };
  }
  if (matchesAt(bytes, MBR_SIGNATURE.at, MBR_SIGNATURE.magic)) {
    return { format: 'mbr-disk', description: 'an MBR disk image or boot sector', protocols: [], hint: DISK_HINT };
  }
  if (matchesAt(bytes, PE_MAGIC.at, PE_MAGIC.magic)) {
    return { format: 'pe', description: 'a PE/COFF executable (EFI application?)', protocols: [], hint: 'irqbench has no UEFI; pass a bzImage, PVH ELF or multiboot kernel' };
  }
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return {
    format: 'unknown',
    description: `an unrecognised file (starts ${head})`,
    protocols: [],
    hint: 'expected a Linux bzImage, an ELF kernel with a PVH note, or a multiboot kernel',
  };
}

function detectElf(bytes: Uint8Array): ImageInfo {
  const mb = findMultibootHeader(bytes);
  let elf: ElfImage;
  try {
    elf = parseElf(bytes);
  } catch (e) {
    const error = e instanceof VmmError ? e : new VmmError('ELF parse failed', { cause: e });
    // A multiboot a.out kludge does not need the ELF headers, so it can still boot.
    const aout = mb !== undefined && (mb.flags & MBH_AOUT_KLUDGE) !== 0;
    return {
      format: 'elf',
      description: 'a malformed ELF file',
      protocols: aout ? ['multiboot'] : [],
      ...(mb ? { multiboot: mb } : {}),
      hint: error.message,
      error,
    };
  }
  const pvhNote = hasPvhNote(elf);
  const protocols: BootProtocol[] = [];
  if (pvhNote) protocols.push('pvh');
  if (mb) protocols.push('multiboot');
  const arch = elf.machine === EM_X86_64 ? 'x86-64' : elf.machine === EM_386 ? 'i386' : `machine ${elf.machine}`;
  const parts = [pvhNote ? 'a PVH entry note' : '', mb ? 'a multiboot header' : ''].filter(Boolean);
  const info: ImageInfo = {
    format: 'elf',
    description: `an ELF${elf.elfClass} ${arch} kernel` + (parts.length ? ` with ${parts.join(' and ')}` : ' with neither a PVH note nor a multiboot header'),
    protocols,
    elf: { elfClass: elf.elfClass, machine: elf.machine, pvhNote },
    ...(mb ? { multiboot: mb } : {}),
  };
  if (protocols.length === 0) {
    info.hint = 'build Linux with CONFIG_PVH=y (or boot arch/x86/boot/bzImage instead of vmlinux), or add a multiboot header';
  }
  return info;
}

function detectBzImage(bz: BzImageSummary): ImageInfo {
  const proto = formatProtocol(bz.version);
  const usable = bz.version >= MIN_PROTOCOL && bz.kernel64;
  const info: ImageInfo = {
    format: 'bzimage',
    description:
      `a Linux bzImage (boot protocol ${proto}` +
      (bz.kernel64 ? ', 64-bit entry' : ', no 64-bit entry') +
      (bz.relocatable ? ', relocatable)' : ')'),
    protocols: usable ? ['bzimage'] : [],
    bzImage: bz,
  };
  if (!usable) {
    info.hint = 'irqbench enters Linux at its 64-bit entry point, which needs boot protocol 2.12+ and a 64-bit kernel (CONFIG_X86_64)';
  }
  return info;
}

/** The error for an image that cannot be booted as `requested` (or at all, for 'auto'). */
export function unsupportedImage(info: ImageInfo, requested: BootProtocol | 'auto'): UnsupportedImageError {
  if (info.protocols.length === 0) {
    return new UnsupportedImageError(info.description, `kernel image is ${info.description}: ${info.hint ?? 'it cannot be booted'}`);
  }
  const alternatives = info.protocols.map((p) => `'${p}'`).join(' or ');
  return new UnsupportedImageError(
    info.description,
    `boot kind '${requested}' does not match the kernel image, which is ${info.description}; use boot kind ${alternatives} or 'auto'`,
  );
}
