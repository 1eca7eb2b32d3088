// The Linux x86 "real-mode kernel header" (Documentation/arch/x86/boot.rst, "THE REAL-MODE
// KERNEL HEADER"): offsets of the setup header fields inside a bzImage and a validated parse
// of them. The same offsets index the header copy inside boot_params (the zero page).
import { ByteReader, hex, matchesAt, peekU16 } from './bytes.js';
import { BzImageFormatError } from './errors.js';

/** Setup header field offsets (boot.rst), identical in the image and in boot_params. */
export const HDR = {
  setupSects: 0x1f1, // u8, 0 means 4
  syssize: 0x1f4, // u32, protected-mode size in 16-byte paragraphs
  vidMode: 0x1fa, // u16
  bootFlag: 0x1fe, // u16, 0xAA55
  jump: 0x200, // 2-byte short jump; byte at 0x201 gives the header's end
  header: 0x202, // "HdrS"
  version: 0x206, // u16
  typeOfLoader: 0x210, // u8
  loadflags: 0x211, // u8
  code32Start: 0x214, // u32
  ramdiskImage: 0x218, // u32
  ramdiskSize: 0x21c, // u32
  heapEndPtr: 0x224, // u16
  cmdLinePtr: 0x228, // u32
  initrdAddrMax: 0x22c, // u32, highest address the initrd may occupy (inclusive)
  kernelAlignment: 0x230, // u32
  relocatableKernel: 0x234, // u8
  xloadflags: 0x236, // u16
  cmdlineSize: 0x238, // u32, max command line length excluding the NUL
  hardwareSubarch: 0x23c, // u32
  setupData: 0x250, // u64
  prefAddress: 0x258, // u64
  initSize: 0x260, // u32
} as const;

export const HDRS_MAGIC = 'HdrS';
export const BOOT_FLAG_MAGIC = 0xaa55;
/** Header start for the copy into boot_params: "from offset 0x01f1 ... to 0x0202 + byte at 0x0201". */
export const SETUP_HEADER_START = 0x1f1;
/** boot_params places edd_mbr_sig_buffer at 0x290, so a setup header can never extend past it. */
export const SETUP_HEADER_LIMIT = 0x290;
/** Protocol 2.12 (first with xloadflags and the documented 64-bit entry). */
export const MIN_PROTOCOL = 0x020c;
/** End of the 2.12 header (handover_offset at 0x264 is its last field). */
const MIN_HEADER_END_212 = 0x268;
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
export const LOADED_HIGH = 1 << 0;
export const CAN_USE_HEAP = 1 << 7;

export interface BzImageSummary {
  version: number;
  kernel64: boolean;
  relocatable: boolean;
}

export interface SetupHeader extends BzImageSummary {
  setupSects: number;
  /** File offset of the protected-mode kernel: (setup_sects + 1) * 512. */
  kernelOffset: number;
  /** End offset of the setup header: 0x202 + byte at 0x201. */
  headerEnd: number;
  loadflags: number;
  xloadflags: number;
  kernelAlignment: number;
  prefAddress: number;
  initSize: number;
  cmdlineSize: number;
  initrdAddrMax: number;
}

export function hasSetupHeader(bytes: Uint8Array): boolean {
  return matchesAt(bytes, HDR.header, HDRS_MAGIC);
}

/** Non-throwing look at the header for detection; undefined when there is no "HdrS". */
export function summarizeBzImage(bytes: Uint8Array): BzImageSummary | undefined {
  if (!hasSetupHeader(bytes)) return undefined;
  const version = peekU16(bytes, HDR.version) ?? 0;
  const xlf = version >= MIN_PROTOCOL ? (peekU16(bytes, HDR.xloadflags) ?? 0) : 0;
  const relocatable = version >= 0x0205 && (bytes[HDR.relocatableKernel] ?? 0) !== 0;
  return { version, kernel64: (xlf & XLF_KERNEL_64) !== 0, relocatable };
}

export function formatProtocol(version: number): string {
  return `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
}

/** Parse and validate the setup header of a bzImage we can enter at its 64-bit entry point. */
export function parseSetupHeader(bytes: Uint8Array): SetupHeader {
  const r = new ByteReader(bytes, (m) => new BzImageFormatError(m));
  if (!hasSetupHeader(bytes)) throw new BzImageFormatError('no "HdrS" setup header at 0x202');
  const version = r.u16(HDR.version, 'boot protocol version');
  if (version < MIN_PROTOCOL) {
    throw new BzImageFormatError(
      `boot protocol ${formatProtocol(version)} is too old; a 64-bit entry needs 2.12 or later (Linux 3.8+)`,
    );
  }
  if (r.u16(HDR.bootFlag, 'boot_flag') !== BOOT_FLAG_MAGIC) {
    throw new BzImageFormatError('boot_flag at 0x1fe is not 0xAA55');
  }
  const xloadflags = r.u16(HDR.xloadflags, 'xloadflags');
  if (!(xloadflags & XLF_KERNEL_64)) {
    throw new BzImageFormatError('xloadflags lacks XLF_KERNEL_64: this is a 32-bit kernel; build it with CONFIG_X86_64');
  }
  const headerEnd = HDR.header + r.u8(HDR.jump + 1, 'setup header length byte');
  if (headerEnd < MIN_HEADER_END_212 || headerEnd > SETUP_HEADER_LIMIT) {
    throw new BzImageFormatError(`setup header end ${hex(headerEnd)} (from the byte at 0x201) is implausible`);
  }
  const rawSects = r.u8(HDR.setupSects, 'setup_sects');
  const setupSects = rawSects === 0 ? 4 : rawSects;
  const kernelOffset = (setupSects + 1) * 512;
  if (headerEnd > kernelOffset) throw new BzImageFormatError('setup header extends past the setup sectors');
  if (kernelOffset >= bytes.length) {
    throw new BzImageFormatError(
      `no protected-mode kernel: setup is ${kernelOffset} bytes but the file has only ${bytes.length}`,
    );
  }
  const relocatable = r.u8(HDR.relocatableKernel, 'relocatable_kernel') !== 0;
  const kernelAlignment = r.u32(HDR.kernelAlignment, 'kernel_alignment');
  if (relocatable && (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw new BzImageFormatError(`kernel_alignment ${hex(kernelAlignment)} is not a power of two`);
  }
  const pref = r.u64(HDR.prefAddress, 'pref_address');
  return {
    version,
    kernel64: true,
    relocatable,
    setupSects,
    kernelOffset,
    headerEnd,
    loadflags: r.u8(HDR.loadflags, 'loadflags'),
    xloadflags,
    kernelAlignment,
    // A pref_address we could never honour is treated as absent (0), not as an error.
    prefAddress: pref <= 0xffffffffn ? Number(pref) : 0,
    initSize: r.u32(HDR.initSize, 'init_size'),
    cmdlineSize: r.u32(HDR.cmdlineSize, 'cmdline_size'),
    initrdAddrMax: r.u32(HDR.initrdAddrMax, 'initrd_addr_max'),
  };
}
