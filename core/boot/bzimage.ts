// Linux bzImage loader for the 64-bit boot protocol (Documentation/arch/x86/boot.rst): load the
// protected-mode kernel, the initrd high in low RAM and the command line, fill the zero page
// (boot_params: setup header copied from the image plus the loader's fields and the e820 map,
// Documentation/arch/x86/zero-page.rst), build page tables and a GDT, and enter at
// load address + 0x200 (startup_64) in long mode with RSI = boot_params.
//
// Fixed low-memory addresses (all below 0x10000, reserved by Linux, see long-mode.ts):
//   0x00500 GDT   0x07000 boot_params   0x08000-0x08fff boot stack   0x09000-0x0efff page tables
// The command line goes at 0x20000: the kernel copies it before it allocates any memory.
//
// Load address: a relocatable kernel is loaded at its pref_address (LOAD_PHYSICAL_ADDR,
// normally 16 MiB) when [pref_address, +init_size) is RAM. Its decompressor would move itself
// there anyway (it runs at max(load address, LOAD_PHYSICAL_ADDR)), so loading it there keeps the
// kernel's whole footprint one range we can check and keep the initrd clear of. Otherwise the
// classic 1 MiB (0x100000) is used; the footprint check then covers both ranges.
import type { GuestMemory } from '../memory/guest-memory.js';
import { LEGACY_HOLE_END, MiB, PCI_HOLE_START } from '../memory/layout.js';
import { alignDown, alignUp, hex } from './bytes.js';
import {
  CAN_USE_HEAP,
  formatProtocol,
  HDR,
  parseSetupHeader,
  SETUP_HEADER_START,
  type SetupHeader,
} from './bzimage-header.js';
import { BootInputError, BootLayoutError } from './errors.js';
import { BOOT_CS, BOOT_DS, writeBootGdt, writeIdentityPageTables } from './long-mode.js';
import { BOOT_INFO_END, encodeCString, PAGE_SIZE } from './placement.js';
import type { BootInput, BootState } from './types.js';

export const ZERO_PAGE_ADDR = 0x7000;
export const ZERO_PAGE_SIZE = 0x1000;
export const BOOT_STACK_TOP = 0x8ff0;
export const CMDLINE_ADDR = 0x20000;
export const DEFAULT_LOAD_ADDR = 0x100000;
/** startup_64 sits 0x200 bytes into the protected-mode kernel (boot.rst, 64-bit boot protocol). */
export const STARTUP_64_OFFSET = 0x200;

/** boot_params fields outside the setup header (zero-page.rst). */
export const BP = {
  acpiRsdpAddr: 0x070, // u64, protocol 2.14+
  extRamdiskImage: 0x0c0, // u32, high half of ramdisk_image
  extRamdiskSize: 0x0c4,
  extCmdLinePtr: 0x0c8,
  e820Entries: 0x1e8, // u8
  e820Table: 0x2d0, // 20-byte entries {u64 addr, u64 size, u32 type}
} as const;
export const E820_MAX_ENTRIES_ZEROPAGE = 128;
const E820_ENTRY_SIZE = 20;

export const TYPE_OF_LOADER_UNDEFINED = 0xff;
/** vid_mode 0xffff = "normal" (80x25); only the 16-bit setup code, which we skip, acts on it. */
export const VID_MODE_NORMAL = 0xffff;
/** boot.rst's sample loader: heap end 0xe000 in the setup segment, heap_end_ptr = that - 0x200. */
export const HEAP_END_PTR = 0xe000 - 0x200;
/** initrd_addr_max for kernels that leave it 0 (boot.rst: protocols < 2.03 default). */
const DEFAULT_INITRD_ADDR_MAX = 0x37ffffff;
const PROTOCOL_ACPI_RSDP = 0x020e;

export function loadBzImage(memory: GuestMemory, input: BootInput): BootState {
  const kernel = input.kernel;
  const hdr = parseSetupHeader(kernel);
  const payload = kernel.subarray(hdr.kernelOffset);
  const cmdline = checkCmdline(input.cmdline, hdr);
  if (input.modules.length > 1) {
    throw new BootInputError('the Linux boot protocol takes a single initrd; concatenate the cpio archives into one file');
  }

  const { loadAddr, footprintEnd } = chooseLoadAddress(memory, hdr, payload.length);
  memory.write(loadAddr, payload);
  memory.write(CMDLINE_ADDR, cmdline);
  const initrd = input.modules[0] ? placeInitrd(memory, hdr, input.modules[0].data, footprintEnd) : undefined;

  const bp = ZERO_PAGE_ADDR;
  memory.fill(bp, ZERO_PAGE_SIZE, 0);
  memory.write(bp + SETUP_HEADER_START, kernel.subarray(SETUP_HEADER_START, hdr.headerEnd));
  memory.writeU16(bp + HDR.vidMode, VID_MODE_NORMAL);
  memory.writeU8(bp + HDR.typeOfLoader, TYPE_OF_LOADER_UNDEFINED);
  memory.writeU8(bp + HDR.loadflags, hdr.loadflags | CAN_USE_HEAP);
  memory.writeU32(bp + HDR.code32Start, loadAddr);
  memory.writeU16(bp + HDR.heapEndPtr, HEAP_END_PTR);
  memory.writeU32(bp + HDR.cmdLinePtr, CMDLINE_ADDR);
  memory.writeU32(bp + BP.extCmdLinePtr, 0);
  memory.writeU32(bp + HDR.ramdiskImage, initrd?.addr ?? 0);
  memory.writeU32(bp + HDR.ramdiskSize, initrd?.size ?? 0);
  memory.writeU32(bp + BP.extRamdiskImage, 0);
  memory.writeU32(bp + BP.extRamdiskSize, 0);
  memory.writeU32(bp + HDR.hardwareSubarch, 0); // X86_SUBARCH_PC
  // The image's setup_data pointer would make the kernel walk a list we never built.
  memory.writeU64(bp + HDR.setupData, 0);
  if (hdr.version >= PROTOCOL_ACPI_RSDP) memory.writeU64(bp + BP.acpiRsdpAddr, input.rsdpAddr);
  writeE820(memory, bp);

  const gdt = writeBootGdt(memory);
  const cr3 = writeIdentityPageTables(memory);
  const rip = loadAddr + STARTUP_64_OFFSET;
  return {
    mode: 'long64',
    rip,
    regs: { rsi: bp, rsp: BOOT_STACK_TOP },
    cr3,
    gdt,
    codeSelector: BOOT_CS,
    dataSelector: BOOT_DS,
    description:
      `Linux bzImage (protocol ${formatProtocol(hdr.version)}) at ${hex(loadAddr)}, entry ${hex(rip)}` +
      (initrd ? `, initrd ${initrd.size} bytes at ${hex(initrd.addr)}` : ''),
  };
}

function checkCmdline(cmdline: string, hdr: SetupHeader): Uint8Array {
  const bytes = encodeCString(cmdline, 'kernel command line');
  const len = bytes.length - 1;
  if (len > hdr.cmdlineSize) {
    throw new BootInputError(`the kernel command line is ${len} bytes but this kernel accepts at most ${hdr.cmdlineSize}; shorten it`);
  }
  if (CMDLINE_ADDR + bytes.length > BOOT_INFO_END) {
    throw new BootInputError(`the kernel command line (${len} bytes) does not fit in low memory; shorten it`);
  }
  return bytes;
}

/** See the module comment; returns the load address and the end of the kernel's footprint. */
function chooseLoadAddress(
  memory: GuestMemory,
  hdr: SetupHeader,
  payloadLen: number,
): { loadAddr: number; footprintEnd: number } {
  const pref = hdr.prefAddress;
  const usePref =
    hdr.relocatable &&
    pref >= LEGACY_HOLE_END &&
    pref % hdr.kernelAlignment === 0 &&
    memory.isRam(pref, Math.max(payloadLen, hdr.initSize));
  const loadAddr = usePref ? pref : DEFAULT_LOAD_ADDR;
  // The decompressor runs at max(load address, LOAD_PHYSICAL_ADDR) and needs init_size there.
  const runtimeStart = Math.max(loadAddr, pref);
  const footprintEnd = Math.max(loadAddr + payloadLen, runtimeStart + hdr.initSize);
  if (!memory.isRam(loadAddr, payloadLen) || !memory.isRam(runtimeStart, hdr.initSize)) {
    throw new BootLayoutError(
      `the kernel needs RAM up to ${hex(footprintEnd)} (${Math.ceil(footprintEnd / MiB)} MiB) to load and decompress; give the machine more memory`,
    );
  }
  return { loadAddr, footprintEnd };
}

/** Highest page-aligned spot below initrd_addr_max and the end of low RAM, above the kernel. */
function placeInitrd(
  memory: GuestMemory,
  hdr: SetupHeader,
  data: Uint8Array,
  kernelEnd: number,
): { addr: number; size: number } {
  const region = memory.regionAt(LEGACY_HOLE_END);
  const lowEnd = Math.min(region ? region.gpa + region.size : 0, PCI_HOLE_START);
  const maxEnd = Math.min((hdr.initrdAddrMax || DEFAULT_INITRD_ADDR_MAX) + 1, lowEnd);
  const addr = alignDown(maxEnd - data.length, PAGE_SIZE);
  if (addr < alignUp(kernelEnd, PAGE_SIZE) || !memory.isRam(addr, data.length)) {
    throw new BootLayoutError(
      `the initrd (${(data.length / MiB).toFixed(1)} MiB) does not fit between the kernel (ends ${hex(kernelEnd)}) ` +
        `and ${hex(maxEnd)}; give the machine more memory`,
    );
  }
  memory.write(addr, data);
  return { addr, size: data.length };
}

function writeE820(memory: GuestMemory, bp: number): void {
  const e820 = memory.layout.e820;
  if (e820.length > E820_MAX_ENTRIES_ZEROPAGE) {
    throw new BootLayoutError(`the memory map has ${e820.length} entries; boot_params holds at most ${E820_MAX_ENTRIES_ZEROPAGE}`);
  }
  memory.writeU8(bp + BP.e820Entries, e820.length);
  e820.forEach((e, i) => {
    const at = bp + BP.e820Table + i * E820_ENTRY_SIZE;
    memory.writeU64(at, e.addr);
    memory.writeU64(at + 8, e.size);
    memory.writeU32(at + 16, e.type);
  });
}
