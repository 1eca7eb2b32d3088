// Access-size handling shared by the 8-bit ISA device models. A 16- or 32-bit IN/OUT to an
// 8-bit ISA device is split by the chipset into byte cycles at consecutive port addresses
// (little-endian), which is also what QEMU does for devices with max_access_size 1. Bytes
// that fall outside the device's range hit nothing: reads float high (0xff), writes vanish.

/** True for the sizes the port/MMIO buses can legitimately produce. */
export function isValidAccessSize(size: number): boolean {
  return size === 1 || size === 2 || size === 4 || size === 8;
}

/** All-ones value of an access of `size` bytes (what an undecoded read returns). */
export function floatingValue(size: number): number {
  if (size === 1) return 0xff;
  if (size === 2) return 0xffff;
  return 0xffffffff;
}

/** Bytes actually carried by an access: an 8-byte MMIO value is a number, so 4 at most. */
function carriedBytes(size: number): number {
  return size === 8 ? 4 : size;
}

/**
 * Read `size` bytes starting at `offset` of a `length`-byte 8-bit device, one byte cycle
 * each. Returns null for malformed accesses (the caller counts them and floats the bus).
 */
export function splitRead(
  offset: number,
  size: number,
  length: number,
  readByte: (offset: number) => number,
): number | null {
  if (!Number.isInteger(offset) || !isValidAccessSize(size)) return null;
  const n = carriedBytes(size);
  let value = 0;
  for (let i = 0; i < n; i++) {
    const off = offset + i;
    const byte = off >= 0 && off < length ? readByte(off) & 0xff : 0xff;
    value |= byte << (8 * i);
  }
  return value >>> 0;
}

/**
 * Write `size` bytes of `value` starting at `offset` as byte cycles. Returns false for a
 * malformed access (nothing written). `value` is reduced modulo 2^32 like a register would.
 */
export function splitWrite(
  offset: number,
  size: number,
  value: number,
  length: number,
  writeByte: (offset: number, byte: number) => void,
): boolean {
  if (!Number.isInteger(offset) || !isValidAccessSize(size)) return false;
  const v = toU32(value);
  const n = carriedBytes(size);
  for (let i = 0; i < n; i++) {
    const off = offset + i;
    if (off >= 0 && off < length) writeByte(off, (v >>> (8 * i)) & 0xff);
  }
  return true;
}

/** ToUint32 that also maps NaN/Infinity to 0 (a register latches the low bits only). */
export function toU32(value: number): number {
  return Number.isFinite(value) ? Math.trunc(value) >>> 0 : 0;
}
