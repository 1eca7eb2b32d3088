// The driver side of a split virtqueue, for tests that play the guest without a VM: lays
// out a ring in GuestMemory, publishes descriptor chains, kicks through an eventfd and
// collects used elements (optionally after waiting for the call eventfd).
import { nativeUnix } from '../../core/vhost/native.js';
import type { GuestMemory } from '../../core/memory/guest-memory.js';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, availRingSize, descTableSize } from '../../core/virtio/constants.js';

export interface DriverBuf {
  gpa: number;
  len: number;
  write?: boolean;
}

export class DriverQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private nextDesc = 0;
  private availIdx = 0;
  private usedSeen = 0;

  constructor(
    readonly mem: GuestMemory,
    base: number,
    readonly size: number,
  ) {
    this.desc = base;
    this.avail = base + descTableSize(size);
    this.used = Math.ceil((this.avail + availRingSize(size)) / 4096) * 4096;
    mem.fill(base, this.used + 6 + 8 * size - base, 0);
  }

  /** Forget all ring state (a fresh device starts from index 0). */
  reset(): void {
    this.nextDesc = 0;
    this.availIdx = 0;
    this.usedSeen = 0;
    this.mem.fill(this.desc, this.used + 6 + 8 * this.size - this.desc, 0);
  }

  /** Write a chain of descriptors (round-robin in the table) and make it available. */
  add(bufs: DriverBuf[]): number {
    const head = this.nextDesc;
    bufs.forEach((b, i) => {
      const idx = (head + i) % this.size;
      const o = this.desc + 16 * idx;
      const last = i === bufs.length - 1;
      this.mem.writeU64(o, BigInt(b.gpa));
      this.mem.writeU32(o + 8, b.len);
      this.mem.writeU16(o + 12, (b.write ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT));
      this.mem.writeU16(o + 14, (idx + 1) % this.size);
    });
    this.nextDesc = (head + bufs.length) % this.size;
    this.mem.writeU16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(this.avail + 2, this.availIdx);
    return head;
  }

  /** Raw descriptor write, for building hostile chains. */
  writeDesc(idx: number, gpa: number | bigint, len: number, flags: number, next: number): void {
    const o = this.desc + 16 * idx;
    this.mem.writeU64(o, BigInt(gpa));
    this.mem.writeU32(o + 8, len);
    this.mem.writeU16(o + 12, flags);
    this.mem.writeU16(o + 14, next);
  }

  /** Make descriptor `head` available as-is. */
  publish(head: number): void {
    this.mem.writeU16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(this.avail + 2, this.availIdx);
  }

  /** Used elements not seen yet. */
  takeUsed(): { id: number; len: number }[] {
    const out: { id: number; len: number }[] = [];
    const idx = this.mem.readU16(this.used + 2);
    while (this.usedSeen !== idx) {
      const o = this.used + 4 + 8 * (this.usedSeen % this.size);
      out.push({ id: this.mem.readU32(o), len: this.mem.readU32(o + 4) });
      this.usedSeen = (this.usedSeen + 1) & 0xffff;
    }
    this.mem.writeU16(this.avail + 4 + 2 * this.size, this.usedSeen); // used_event (VIRTIO_F_EVENT_IDX)
    return out;
  }
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

export function signal(fd: number): void {
  nativeUnix().write(fd, ONE);
}

/** Resolve when the eventfd becomes readable (its counter is consumed), or reject on timeout. */
export function waitEventfd(fd: number, timeoutMs: number): Promise<void> {
  const n = nativeUnix();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      n.unixUnwatch(h);
      reject(new Error(`eventfd ${fd} not signalled within ${timeoutMs} ms`));
    }, timeoutMs);
    const h = n.unixWatchReadable(
      fd,
      () => {
        n.read(fd, new Uint8Array(8));
        clearTimeout(timer);
        n.unixUnwatch(h);
        resolve();
      },
      true,
    );
  });
}
