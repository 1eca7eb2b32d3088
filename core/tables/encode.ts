// Little-endian byte building for firmware tables (ACPI, MP): a fixed-size writer, the 8-bit
// checksum both specs use (all bytes of the covered range sum to 0 mod 256), and the
// bump placement of tables inside a guest-physical window.
import { VmmError } from '../errors.js';

/** Tables do not fit in their window, or the caller asked for an impossible machine. */
export class TableLayoutError extends VmmError {}

export class LeWriter {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
  }

  u8(off: number, v: number): this {
    this.dv.setUint8(off, v);
    return this;
  }
  u16(off: number, v: number): this {
    this.dv.setUint16(off, v, true);
    return this;
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: number | bigint): this {
    this.dv.setBigUint64(off, BigInt(v), true);
    return this;
  }
  /** ASCII `s` in exactly `len` bytes, padded with `pad` (spaces for MP, spaces/NULs for ACPI). */
  ascii(off: number, s: string, len: number, pad = 0x20): this {
    for (let i = 0; i < len; i++) this.bytes[off + i] = i < s.length ? s.charCodeAt(i) & 0x7f : pad;
    return this;
  }
  set(off: number, data: Uint8Array): this {
    this.bytes.set(data, off);
    return this;
  }
}

/** The byte that makes `bytes[start, end)` sum to zero once stored at its checksum slot (which must read 0). */
export function checksumByte(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + bytes[i]!) & 0xff;
  return (0x100 - sum) & 0xff;
}

export function byteSum(bytes: Uint8Array): number {
  return bytes.reduce((s, b) => (s + b) & 0xff, 0);
}

/** Hands out aligned addresses inside [start, end) in order. */
export class Placer {
  private cursor: number;

  constructor(
    private readonly start: number,
    private readonly end: number,
    private readonly what: string,
  ) {
    this.cursor = start;
  }

  place(size: number, align: number, item: string): number {
    const addr = Math.ceil(this.cursor / align) * align;
    if (addr + size > this.end) {
      throw new TableLayoutError(
        `${this.what} do not fit in 0x${this.start.toString(16)}-0x${this.end.toString(16)} (adding ${item}, ${size} bytes)`,
      );
    }
    this.cursor = addr + size;
    return addr;
  }

  get used(): number {
    return this.cursor;
  }
}
