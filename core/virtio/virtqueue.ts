// Device side of a split virtqueue (virtio 1.2 §2.7): pops descriptor chains the driver
// made available, hands them to the device model as lists of live views into guest memory,
// and returns them through the used ring, deciding whether the driver wants an interrupt
// (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_EVENT_IDX).
//
// Ring contents are written by the guest and are hostile. Each chain is checked before any
// byte of it is used: head and next indices inside the table, a chain no longer than the
// table (loop detection), indirect tables only when negotiated, not nested and not chained,
// every buffer inside one mapped region, and device-writable buffers only after readable
// ones. A violation throws VirtqueueError and the caller stops the queue (the virtio
// "needs reset" state); nothing here throws anything else for bad ring data.
import { VmmError } from '../errors.js';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_ELEM_SIZE,
  descTableSize,
} from './constants.js';

export class VirtqueueError extends VmmError {}

/** Guest memory as a device sees it: a live view of [addr, addr+len) or undefined. */
export interface DmaMemory {
  slice(addr: number, len: number): Uint8Array | undefined;
}

/** Largest indirect table we accept (entries); QEMU and Linux stay far below. */
export const MAX_INDIRECT_ENTRIES = 4096;

export interface VirtqueueConfig {
  size: number;
  /** Views of the descriptor table, avail ring and used ring (sizes per ringPartSizes). */
  desc: Uint8Array;
  avail: Uint8Array;
  used: Uint8Array;
  memory: DmaMemory;
  eventIdx: boolean;
  indirect: boolean;
  /** Next avail index to consume (SET_VRING_BASE); the used index is read from the ring. */
  nextAvail?: number;
}

export interface DescChain {
  head: number;
  /** Device-readable buffers, in chain order. */
  readable: Uint8Array[];
  /** Device-writable buffers, in chain order. */
  writable: Uint8Array[];
  readableBytes: number;
  writableBytes: number;
}

/** Byte sizes of the three ring parts for a queue of `size` (with event-idx fields). */
export function ringPartSizes(size: number, eventIdx: boolean): { desc: number; avail: number; used: number } {
  const extra = eventIdx ? 2 : 0;
  return { desc: descTableSize(size), avail: 4 + 2 * size + extra, used: 4 + VIRTQ_USED_ELEM_SIZE * size + extra };
}

export function isValidQueueSize(size: number): boolean {
  return Number.isInteger(size) && size >= 1 && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) === 0;
}

export class SplitVirtqueue {
  readonly size: number;
  private readonly desc: DataView;
  private readonly avail: DataView;
  private readonly availIdx16: Uint16Array;
  private readonly used: DataView;
  private readonly usedIdx16: Uint16Array;
  private readonly mem: DmaMemory;
  private readonly eventIdx: boolean;
  private readonly indirect: boolean;
  private nextAvail: number;
  private nextUsed: number;
  private signalledUsed: number | undefined;

  constructor(cfg: VirtqueueConfig) {
    const { size } = cfg;
    if (!isValidQueueSize(size)) throw new VirtqueueError(`queue size ${size} is not a power of two in 1..${VIRTQ_MAX_SIZE}`);
    const want = ringPartSizes(size, cfg.eventIdx);
    if (cfg.desc.length < want.desc || cfg.avail.length < want.avail || cfg.used.length < want.used) {
      throw new VirtqueueError('ring views are smaller than the queue size needs');
    }
    if (cfg.avail.byteOffset % 2 !== 0 || cfg.used.byteOffset % 4 !== 0) throw new VirtqueueError('misaligned avail or used ring');
    this.size = size;
    this.desc = dv(cfg.desc);
    this.avail = dv(cfg.avail);
    this.used = dv(cfg.used);
    this.availIdx16 = new Uint16Array(cfg.avail.buffer, cfg.avail.byteOffset, 2);
    this.usedIdx16 = new Uint16Array(cfg.used.buffer, cfg.used.byteOffset, 2);
    this.mem = cfg.memory;
    this.eventIdx = cfg.eventIdx;
    this.indirect = cfg.indirect;
    this.nextAvail = (cfg.nextAvail ?? 0) & 0xffff;
    this.nextUsed = Atomics.load(this.usedIdx16, 1);
  }

  /** Next avail index the device will consume (what GET_VRING_BASE reports). */
  get lastAvailIdx(): number {
    return this.nextAvail;
  }

  /** Chains the driver has made available and we have not popped yet. */
  pending(): number {
    const n = (Atomics.load(this.availIdx16, 1) - this.nextAvail) & 0xffff;
    if (n > this.size) throw new VirtqueueError(`avail index moved ${n} entries ahead on a queue of ${this.size}`);
    return n;
  }

  /** Pop and validate the next available chain, or null when there is none. */
  pop(): DescChain | null {
    if (this.pending() === 0) return null;
    const head = this.avail.getUint16(4 + 2 * (this.nextAvail % this.size), true);
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    if (this.eventIdx) this.used.setUint16(4 + VIRTQ_USED_ELEM_SIZE * this.size, this.nextAvail, true); // avail_event
    return this.walk(head);
  }

  /** Return a chain to the driver with `written` bytes written into its writable buffers. */
  push(head: number, written: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.size) throw new VirtqueueError(`used id ${head} out of range`);
    const o = 4 + VIRTQ_USED_ELEM_SIZE * (this.nextUsed % this.size);
    this.used.setUint32(o, head, true);
    this.used.setUint32(o + 4, written >>> 0, true);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    Atomics.store(this.usedIdx16, 1, this.nextUsed); // publishes the element (release)
  }

  /** After pushes: does the driver want an interrupt now? (§2.7.7.2, §2.7.10) */
  needsNotify(): boolean {
    const now = this.nextUsed;
    const old = this.signalledUsed;
    this.signalledUsed = now;
    if (!this.eventIdx) return (this.avail.getUint16(0, true) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    if (old === undefined) return true;
    const usedEvent = this.avail.getUint16(4 + 2 * this.size, true);
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }

  private walk(head: number): DescChain {
    const chain: DescChain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
    let table = this.desc;
    let entries = this.size;
    let idx = head;
    let seen = 0;
    let inIndirect = false;
    for (;;) {
      if (idx >= entries) throw new VirtqueueError(`descriptor index ${idx} out of range (table of ${entries}) in chain ${head}`);
      if (++seen > entries) throw new VirtqueueError(`descriptor chain ${head} loops or exceeds ${entries} entries`);
      const o = idx * VIRTQ_DESC_SIZE;
      const addr = table.getBigUint64(o, true);
      const len = table.getUint32(o + 8, true);
      const flags = table.getUint16(o + 12, true);
      const next = table.getUint16(o + 14, true);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) throw new VirtqueueError(`chain ${head}: indirect descriptor without VIRTIO_F_INDIRECT_DESC`);
        if (inIndirect) throw new VirtqueueError(`chain ${head}: nested indirect table`);
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError(`chain ${head}: indirect descriptor with NEXT`);
        if (len === 0 || len % VIRTQ_DESC_SIZE !== 0 || len / VIRTQ_DESC_SIZE > MAX_INDIRECT_ENTRIES) {
          throw new VirtqueueError(`chain ${head}: bad indirect table length ${len}`);
        }
        const t = this.buffer(addr, len, head);
        table = dv(t);
        entries = len / VIRTQ_DESC_SIZE;
        idx = 0;
        seen = 0;
        inIndirect = true;
        continue;
      }
      if (len > 0) {
        const buf = this.buffer(addr, len, head);
        if (flags & VIRTQ_DESC_F_WRITE) {
          chain.writable.push(buf);
          chain.writableBytes += len;
        } else {
          if (chain.writable.length > 0) throw new VirtqueueError(`chain ${head}: device-readable buffer after a writable one`);
          chain.readable.push(buf);
          chain.readableBytes += len;
        }
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      idx = next;
    }
  }

  private buffer(addr: bigint, len: number, head: number): Uint8Array {
    const a = addr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(addr) : -1;
    const v = a < 0 ? undefined : this.mem.slice(a, len);
    if (!v) throw new VirtqueueError(`chain ${head}: buffer 0x${addr.toString(16)}+${len} is not in guest memory`);
    return v;
  }
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
