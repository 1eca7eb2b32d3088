// ACPI resource data (ACPI 6.5 §6.4): the byte lists inside a _CRS ResourceTemplate. Only
// the descriptors a PCI host bridge and a motherboard-resource device need: the small I/O
// Port descriptor and End Tag, and the large Word/DWord/QWord Address Space descriptors
// (bus number, I/O and memory ranges) in their fixed-size, fixed-location form (_MIF = _MAF
// = 1, _GRA = 0, _LEN = _MAX - _MIN + 1, §6.4.3.5 table "Valid Combinations"), without the
// optional ResourceSource fields. resourceTemplate() appends the End Tag with its checksum.
import { VmmError } from '../errors.js';
import { concat } from './aml.js';
import { checksumByte, LeWriter } from './encode.js';

/** A descriptor cannot be encoded (range inverted or too wide for its field). */
export class ResourceEncodeError extends VmmError {}

/** Small resource tag byte: bit 7 = 0, bits 6:3 item name, bits 2:0 length (§6.4.2). */
const smallTag = (name: number, length: number): number => (name << 3) | length;
/** I/O Port descriptor (§6.4.2.5): name 0x08, 7 bytes after the tag. */
export const IO_PORT_TAG = smallTag(0x08, 7); // 0x47
export const IO_DECODE_16 = 1 << 0; // information byte: the device decodes 16 address bits
/** End Tag (§6.4.2.9): name 0x0F, 1 byte (the checksum) after the tag. */
export const END_TAG = smallTag(0x0f, 1); // 0x79

/** Large resource tags (§6.4.3): bit 7 set, then a 16-bit length of the bytes that follow. */
export const LARGE = {
  dwordAddressSpace: 0x87, // §6.4.3.5.2
  wordAddressSpace: 0x88, // §6.4.3.5.3
  qwordAddressSpace: 0x8a, // §6.4.3.5.1
} as const;
const LARGE_HEADER = 3; // tag + 16-bit length

/** Address space descriptor Resource Type byte (§6.4.3.5.1, byte 3). */
export const RESOURCE_TYPE = { memory: 0, io: 1, busNumber: 2 } as const;
/** General Flags byte (§6.4.3.5.1, byte 4). */
export const GENERAL_FLAG = {
  CONSUMER: 1 << 0, // 0 = the device produces (bridges) this range for its children
  SUB_DECODE: 1 << 1, // 0 = positive decode
  MIN_FIXED: 1 << 2, // _MIF
  MAX_FIXED: 1 << 3, // _MAF
} as const;
/** Type Specific Flags for memory ranges (§6.4.3.5.5, Memory Resource Flag): _RW, _MEM. */
export const MEM_FLAG = {
  READ_WRITE: 1 << 0,
  NON_CACHEABLE: 0 << 1,
  CACHEABLE: 1 << 1,
  WRITE_COMBINING: 2 << 1,
  PREFETCHABLE: 3 << 1,
} as const;
/** Type Specific Flags for I/O ranges (§6.4.3.5.5, I/O Resource Flag): _RNG = entire range. */
export const IO_FLAG_ENTIRE_RANGE = 0b11;

export type Usage = 'producer' | 'consumer';
export type Caching = 'non-cacheable' | 'cacheable' | 'write-combining' | 'prefetchable';

export interface AddressRange {
  /** First address (or bus) of the range. */
  min: number | bigint;
  /** Last address (or bus) of the range, inclusive. */
  max: number | bigint;
  usage?: Usage;
}

export interface MemoryRange extends AddressRange {
  caching?: Caching;
  readOnly?: boolean;
}

/** Field widths of the three address space descriptors: value width in bytes and body length. */
const WIDTH = {
  word: { tag: LARGE.wordAddressSpace, bytes: 2, max: 0xffffn },
  dword: { tag: LARGE.dwordAddressSpace, bytes: 4, max: 0xffffffffn },
  qword: { tag: LARGE.qwordAddressSpace, bytes: 8, max: 2n ** 64n - 1n },
} as const;
type Width = keyof typeof WIDTH;

/**
 * Word/DWord/QWord Address Space descriptor: tag, length, resource type, general flags,
 * type-specific flags, then _GRA, _MIN, _MAX, _TRA, _LEN, each `bytes` wide (§6.4.3.5.1-3).
 */
function addressSpace(width: Width, type: number, typeFlags: number, r: AddressRange): Uint8Array {
  const { tag, bytes, max: fieldMax } = WIDTH[width];
  const min = BigInt(r.min);
  const max = BigInt(r.max);
  if (min < 0n || max < min || max > fieldMax) {
    throw new ResourceEncodeError(`${width} address range 0x${min.toString(16)}-0x${max.toString(16)} is empty or wider than ${bytes * 8} bits`);
  }
  const len = max - min + 1n;
  if (len > fieldMax) throw new ResourceEncodeError(`${width} address range 0x${min.toString(16)}-0x${max.toString(16)} is longer than its _LEN field`);
  const size = 6 + 5 * bytes;
  const w = new LeWriter(size).u8(0, tag).u16(1, size - LARGE_HEADER).u8(3, type);
  const general = GENERAL_FLAG.MIN_FIXED | GENERAL_FLAG.MAX_FIXED | (r.usage === 'consumer' ? GENERAL_FLAG.CONSUMER : 0);
  w.u8(4, general).u8(5, typeFlags);
  const put = (field: number, v: bigint): void => {
    const at = 6 + field * bytes;
    if (bytes === 2) w.u16(at, Number(v));
    else if (bytes === 4) w.u32(at, Number(v));
    else w.u64(at, v);
  };
  put(0, 0n); // _GRA: 0 for fixed-size, fixed-location ranges
  put(1, min);
  put(2, max);
  put(3, 0n); // _TRA: no translation between the primary and secondary side
  put(4, len);
  return w.bytes;
}

function memFlags(r: MemoryRange): number {
  const caching = { 'non-cacheable': MEM_FLAG.NON_CACHEABLE, cacheable: MEM_FLAG.CACHEABLE, 'write-combining': MEM_FLAG.WRITE_COMBINING, prefetchable: MEM_FLAG.PREFETCHABLE };
  return caching[r.caching ?? 'non-cacheable'] | (r.readOnly ? 0 : MEM_FLAG.READ_WRITE);
}

/** WordBusNumber: the bus numbers a host bridge decodes (producer by default). */
export function wordBusNumber(r: AddressRange): Uint8Array {
  return addressSpace('word', RESOURCE_TYPE.busNumber, 0, r);
}

/** WordIO: an I/O port window, entire range (ISA and non-ISA addresses). */
export function wordIo(r: AddressRange): Uint8Array {
  return addressSpace('word', RESOURCE_TYPE.io, IO_FLAG_ENTIRE_RANGE, r);
}

/** DWordMemory: a memory window below 4 GiB, read-write. */
export function dwordMemory(r: MemoryRange): Uint8Array {
  return addressSpace('dword', RESOURCE_TYPE.memory, memFlags(r), r);
}

/** QWordMemory: a memory window anywhere in the 64-bit space, read-write. */
export function qwordMemory(r: MemoryRange): Uint8Array {
  return addressSpace('qword', RESOURCE_TYPE.memory, memFlags(r), r);
}

/** IO(Decode16, min, max, alignment, length): a fixed I/O port range the device consumes. */
export function ioPort(r: { min: number; max: number; alignment: number; length: number }): Uint8Array {
  const ok = (v: number, limit: number): boolean => Number.isInteger(v) && v >= 0 && v <= limit;
  if (!ok(r.min, 0xffff) || !ok(r.max, 0xffff) || r.max < r.min || !ok(r.alignment, 0xff) || !ok(r.length, 0xff)) {
    throw new ResourceEncodeError(`IO(0x${r.min.toString(16)}, 0x${r.max.toString(16)}, ${r.alignment}, ${r.length}) does not fit its fields`);
  }
  return new LeWriter(8).u8(0, IO_PORT_TAG).u8(1, IO_DECODE_16).u16(2, r.min).u16(4, r.max).u8(6, r.alignment).u8(7, r.length).bytes;
}

/**
 * The descriptors followed by an End Tag whose checksum byte makes the whole list sum to
 * zero (§6.4.2.9; 0 would also be accepted as "no checksum").
 */
export function resourceTemplate(...descriptors: readonly Uint8Array[]): Uint8Array {
  const out = concat(...descriptors, Uint8Array.of(END_TAG, 0));
  out[out.length - 1] = checksumByte(out);
  return out;
}
