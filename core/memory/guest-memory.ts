// Guest RAM as the VMM sees it: one SharedArrayBuffer (allocated by V8, so it is allowed
// under Electron's memory cage) mapped by KVM at the guest-physical regions of a
// MemoryLayout. Every access goes through gpa -> region translation and is bounds-checked,
// because guest-physical addresses come from the guest and are hostile.
import { VmmError } from '../errors.js';
import type { MemoryLayout, RamRegion } from './layout.js';

export class GuestMemoryError extends VmmError {
  constructor(
    readonly gpa: number,
    readonly length: number,
  ) {
    super(`guest-physical range 0x${gpa.toString(16)}+${length} is not RAM`);
  }
}

export class GuestMemory {
  /** Byte view of all RAM regions back to back (region.offset indexes into it). */
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly byteOffset: number,
    readonly layout: MemoryLayout,
  ) {
    if (byteOffset + layout.ramSize > buffer.byteLength) {
      throw new RangeError('guest-memory buffer is smaller than the layout');
    }
    this.bytes = new Uint8Array(buffer, byteOffset, layout.ramSize);
    this.dv = new DataView(buffer, byteOffset, layout.ramSize);
  }

  /** Plain (non-KVM) memory for tests and offline tools. */
  static anonymous(layout: MemoryLayout): GuestMemory {
    return new GuestMemory(new SharedArrayBuffer(layout.ramSize), 0, layout);
  }

  /** Offset into `bytes` of [gpa, gpa+len), or -1 when the range is not inside one RAM region. */
  offsetOf(gpa: number, len: number): number {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(len) || gpa < 0 || len < 0) return -1;
    for (const r of this.layout.regions) {
      if (gpa >= r.gpa && gpa + len <= r.gpa + r.size) return r.offset + (gpa - r.gpa);
    }
    return -1;
  }

  isRam(gpa: number, len = 1): boolean {
    return this.offsetOf(gpa, len) >= 0;
  }

  private at(gpa: number, len: number): number {
    const off = this.offsetOf(gpa, len);
    if (off < 0) throw new GuestMemoryError(gpa, len);
    return off;
  }

  /** A live view of guest memory (writes go straight to the guest). */
  view(gpa: number, len: number): Uint8Array {
    const off = this.at(gpa, len);
    return this.bytes.subarray(off, off + len);
  }

  read(gpa: number, len: number): Uint8Array {
    return this.view(gpa, len).slice();
  }

  write(gpa: number, data: Uint8Array): void {
    this.view(gpa, data.length).set(data);
  }

  fill(gpa: number, len: number, value = 0): void {
    this.view(gpa, len).fill(value);
  }

  readU8(gpa: number): number {
    return this.dv.getUint8(this.at(gpa, 1));
  }
  readU16(gpa: number): number {
    return this.dv.getUint16(this.at(gpa, 2), true);
  }
  readU32(gpa: number): number {
    return this.dv.getUint32(this.at(gpa, 4), true);
  }
  readU64(gpa: number): bigint {
    return this.dv.getBigUint64(this.at(gpa, 8), true);
  }
  writeU8(gpa: number, v: number): void {
    this.dv.setUint8(this.at(gpa, 1), v);
  }
  writeU16(gpa: number, v: number): void {
    this.dv.setUint16(this.at(gpa, 2), v, true);
  }
  writeU32(gpa: number, v: number): void {
    this.dv.setUint32(this.at(gpa, 4), v >>> 0, true);
  }
  writeU64(gpa: number, v: bigint | number): void {
    this.dv.setBigUint64(this.at(gpa, 8), BigInt(v), true);
  }

  /** NUL-terminated string at gpa, at most `max` bytes. */
  readCString(gpa: number, max = 4096): string {
    const out: number[] = [];
    for (let i = 0; i < max; i++) {
      const b = this.readU8(gpa + i);
      if (b === 0) break;
      out.push(b);
    }
    return Buffer.from(out).toString('latin1');
  }

  regionAt(gpa: number): RamRegion | undefined {
    return this.layout.regions.find((r) => gpa >= r.gpa && gpa < r.gpa + r.size);
  }
}
