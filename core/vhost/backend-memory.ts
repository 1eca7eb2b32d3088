// A back-end's view of the front-end's guest memory: each SET_MEM_TABLE region's fd is
// mapped (MAP_SHARED) over a SharedArrayBuffer that V8 allocated here, so device code
// reads and writes guest RAM directly. Translates guest-physical addresses (descriptor
// buffers) and front-end virtual addresses (vring addresses) to live views, refusing any
// range that is not inside one region. Regions are checked against the fd's size first:
// touching a mapping past the end of its file would kill this process with SIGBUS.
import { fstatSync } from 'node:fs';
import { VmmError } from '../errors.js';
import type { DmaMemory } from '../virtio/virtqueue.js';
import { nativeUnix, PAGE_SIZE } from './native.js';
import { safeClose } from './channel.js';
import { safeNumber, type MemRegionDesc } from './protocol.js';

export class BackendMemoryError extends VmmError {}

/** Largest single region we agree to map (1 TiB of address space; pages stay lazy). */
export const MAX_REGION_BYTES = 2 ** 40;

interface MappedRegion {
  guestAddr: number;
  userAddr: number;
  size: number;
  /** The region's bytes (inside `mapped`). */
  bytes: Uint8Array;
  /** The page-aligned range we mapped over; keeps the SharedArrayBuffer alive. */
  mapped: Uint8Array;
}

export class BackendMemory implements DmaMemory {
  private constructor(private regions: MappedRegion[]) {}

  /** Map every region; takes ownership of `fds` (closed once mapped, or on failure). */
  static map(descs: MemRegionDesc[], fds: number[]): BackendMemory {
    const n = nativeUnix();
    const done: MappedRegion[] = [];
    try {
      if (fds.length !== descs.length) throw new BackendMemoryError(`SET_MEM_TABLE: ${descs.length} regions but ${fds.length} fds`);
      descs.forEach((d, i) => done.push(mapRegion(d, fds[i]!, i)));
      return new BackendMemory(done);
    } catch (e) {
      for (const r of done) unmapRegion(r);
      throw e;
    } finally {
      for (const f of fds) safeClose(n, f);
    }
  }

  get regionCount(): number {
    return this.regions.length;
  }

  /** Live view of guest-physical [gpa, gpa+len) inside one region. */
  slice(gpa: number, len: number): Uint8Array | undefined {
    for (const r of this.regions) {
      if (gpa >= r.guestAddr && len <= r.size && gpa - r.guestAddr <= r.size - len) {
        const o = gpa - r.guestAddr;
        return r.bytes.subarray(o, o + len);
      }
    }
    return undefined;
  }

  /** Live view of front-end virtual [addr, addr+len) inside one region. */
  sliceUser(addr: bigint, len: number): Uint8Array | undefined {
    if (addr > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    const a = Number(addr);
    for (const r of this.regions) {
      if (a >= r.userAddr && len <= r.size && a - r.userAddr <= r.size - len) {
        const o = a - r.userAddr;
        return r.bytes.subarray(o, o + len);
      }
    }
    return undefined;
  }

  /** Drop every mapping; views handed out before now read zeros afterwards. */
  unmap(): void {
    for (const r of this.regions) unmapRegion(r);
    this.regions = [];
  }
}

function mapRegion(d: MemRegionDesc, fd: number, i: number): MappedRegion {
  const size = safeNumber(d.size, `region ${i} size`);
  const offset = safeNumber(d.mmapOffset, `region ${i} mmap offset`);
  const guestAddr = safeNumber(d.guestAddr, `region ${i} guest address`);
  const userAddr = safeNumber(d.userAddr, `region ${i} user address`);
  if (size > MAX_REGION_BYTES) throw new BackendMemoryError(`region ${i}: ${size} bytes is more than we map`);
  let fileSize: number;
  try {
    fileSize = fstatSync(fd).size;
  } catch (cause) {
    throw new BackendMemoryError(`region ${i}: bad fd`, { cause });
  }
  if (offset + size > fileSize) throw new BackendMemoryError(`region ${i}: ${offset}+${size} is past the end of its fd (${fileSize} bytes)`);
  const delta = offset % PAGE_SIZE;
  const mapLen = Math.ceil((delta + size) / PAGE_SIZE) * PAGE_SIZE;
  let sab: SharedArrayBuffer;
  try {
    sab = new SharedArrayBuffer(mapLen + PAGE_SIZE);
  } catch (cause) {
    throw new BackendMemoryError(`region ${i}: cannot reserve ${mapLen} bytes`, { cause });
  }
  const n = nativeUnix();
  const base = n.addressOf(new Uint8Array(sab, 0, 1));
  const pad = Number((BigInt(PAGE_SIZE) - (base % BigInt(PAGE_SIZE))) % BigInt(PAGE_SIZE));
  const mapped = new Uint8Array(sab, pad, mapLen);
  try {
    n.mapSharedOverAt(mapped, fd, offset - delta);
  } catch (cause) {
    throw new BackendMemoryError(`region ${i}: mmap failed`, { cause });
  }
  return { guestAddr, userAddr, size, bytes: mapped.subarray(delta, delta + size), mapped };
}

function unmapRegion(r: MappedRegion): void {
  try {
    nativeUnix().mapAnonymousOver(r.mapped);
  } catch {
    // nothing more we can do; the SharedArrayBuffer keeps the range reserved
  }
}
