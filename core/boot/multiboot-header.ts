// Locating the multiboot v1 header (Multiboot Specification 0.6.96, section 3.1): a 32-bit
// aligned {magic, flags, checksum} within the first 8192 bytes of the image, with
// magic + flags + checksum == 0 (mod 2^32). Shared by detection and by the loader.
import { peekU32 } from './bytes.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** Value in EAX at kernel entry that tells the kernel a multiboot loader started it. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie entirely within this many bytes from the start of the file. */
export const MULTIBOOT_SEARCH_BYTES = 8192;
/** Multiboot2 header magic (Multiboot2 spec 3.1.1): recognised only to name it in errors. */
export const MULTIBOOT2_HEADER_MAGIC = 0xe85250d6;
const MULTIBOOT2_SEARCH_BYTES = 32768;

/** Header flag bits (spec 3.1.2). Bits 0-15 are requirements: a loader must refuse unknown ones. */
export const MBH_PAGE_ALIGN = 1 << 0;
export const MBH_MEMORY_INFO = 1 << 1;
export const MBH_VIDEO_MODE = 1 << 2;
export const MBH_REQUIRED_MASK = 0xffff;
/** Bit 16: the a.out kludge address fields at offsets 12-28 are valid and take precedence. */
export const MBH_AOUT_KLUDGE = 1 << 16;

export interface MultibootHeaderRef {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  checksumOk: boolean;
}

/**
 * The first header whose checksum is valid; failing that the first magic match (so the loader
 * can report "bad checksum" instead of "no header").
 */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeaderRef | undefined {
  let firstBad: MultibootHeaderRef | undefined;
  const limit = Math.min(bytes.length, MULTIBOOT_SEARCH_BYTES);
  for (let off = 0; off + 12 <= limit; off += 4) {
    if (peekU32(bytes, off) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = peekU32(bytes, off + 4)!;
    const checksum = peekU32(bytes, off + 8)!;
    const checksumOk = ((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) === 0;
    if (checksumOk) return { offset: off, flags, checksumOk };
    firstBad ??= { offset: off, flags, checksumOk };
  }
  return firstBad;
}

/** Offset of a multiboot2 header (8-byte aligned, first 32 KiB), or undefined. */
export function findMultiboot2Header(bytes: Uint8Array): number | undefined {
  const limit = Math.min(bytes.length, MULTIBOOT2_SEARCH_BYTES);
  for (let off = 0; off + 16 <= limit; off += 8) {
    if (peekU32(bytes, off) !== MULTIBOOT2_HEADER_MAGIC) continue;
    const arch = peekU32(bytes, off + 4)!;
    const len = peekU32(bytes, off + 8)!;
    const sum = peekU32(bytes, off + 12)!;
    if (((MULTIBOOT2_HEADER_MAGIC + arch + len + sum) >>> 0) === 0) return off;
  }
  return undefined;
}
