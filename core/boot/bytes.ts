// Bounds-checked little-endian reads from an image file. Every offset an image gives us is
// checked here against the file length, so a truncated or lying header becomes the caller's
// format error (naming the field) instead of a RangeError from DataView.

export type ErrorFactory = (message: string) => Error;

export class ByteReader {
  private readonly dv: DataView;

  constructor(
    readonly bytes: Uint8Array,
    private readonly fail: ErrorFactory,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** True when [offset, offset+len) lies inside the file. */
  has(offset: number, len: number): boolean {
    return (
      Number.isSafeInteger(offset) &&
      Number.isSafeInteger(len) &&
      offset >= 0 &&
      len >= 0 &&
      offset + len <= this.bytes.length
    );
  }

  /** Throw the format error unless [offset, offset+len) lies inside the file. */
  need(offset: number, len: number, what: string): void {
    if (!this.has(offset, len)) {
      throw this.fail(
        `${what} (offset ${hex(offset)}, ${len} bytes) lies beyond the end of the ${this.bytes.length}-byte file`,
      );
    }
  }

  u8(offset: number, what: string): number {
    this.need(offset, 1, what);
    return this.dv.getUint8(offset);
  }
  u16(offset: number, what: string): number {
    this.need(offset, 2, what);
    return this.dv.getUint16(offset, true);
  }
  u32(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.dv.getUint32(offset, true);
  }
  u64(offset: number, what: string): bigint {
    this.need(offset, 8, what);
    return this.dv.getBigUint64(offset, true);
  }
  /** A u64 that must fit a JS number exactly (sizes, offsets, physical addresses). */
  u64n(offset: number, what: string): number {
    const v = this.u64(offset, what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.fail(`${what} 0x${v.toString(16)} is too large`);
    }
    return Number(v);
  }

  slice(offset: number, len: number, what: string): Uint8Array {
    this.need(offset, len, what);
    return this.bytes.subarray(offset, offset + len);
  }
}

export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

export function alignUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}

export function alignDown(v: number, align: number): number {
  return Math.floor(v / align) * align;
}

/** Non-throwing bounded reads for format sniffing (detect.ts): undefined when out of range. */
export function peekU16(b: Uint8Array, off: number): number | undefined {
  return off + 2 <= b.length ? b[off]! | (b[off + 1]! << 8) : undefined;
}
export function peekU32(b: Uint8Array, off: number): number | undefined {
  return off + 4 <= b.length
    ? (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0
    : undefined;
}
export function matchesAt(b: Uint8Array, off: number, magic: readonly number[] | string): boolean {
  const m = typeof magic === 'string' ? [...magic].map((c) => c.charCodeAt(0)) : magic;
  if (off < 0 || off + m.length > b.length) return false;
  return m.every((v, i) => b[off + i] === v);
}
