// virtio-blk device model over a raw image file (virtio 1.2 §5.2): request decoding
// (VIRTIO_BLK_T_IN / OUT / FLUSH / GET_ID), config space, feature bits. Transport-free: a
// transport pops a DescChain, awaits handle(), then pushes the chain with the byte count it
// returns. Data moves between the image and guest memory with readv/writev on live views.
//
// Integrity guarantee (we offer VIRTIO_BLK_F_FLUSH, so the guest sees a write-back cache):
// - an OUT request completes only after pwritev has returned for all of its bytes, so a
//   completed write survives a crash of this process (the data is in the host page cache);
// - a FLUSH completes only after every write that was in flight when it arrived has
//   finished and fdatasync() on the image has returned, so writes completed before a
//   completed FLUSH survive a host crash or power loss;
// - a failed write or fdatasync completes with VIRTIO_BLK_S_IOERR, never with OK.
import { open, type FileHandle } from 'node:fs/promises';
import { VmmError } from '../errors.js';
import { iovLength, iovRead, iovSlice, iovWrite } from './iov.js';
import type { DescChain } from './virtqueue.js';

export class BlkImageError extends VmmError {}

/** §5.2.3 feature bits. */
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_MQ = 12;

/** §5.2.6 request types and status values. */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** struct virtio_blk_outhdr: type u32, reserved u32, sector u64. */
export const BLK_REQ_HEADER_SIZE = 16;
export const SECTOR_SIZE = 512;
/** VIRTIO_BLK_ID_BYTES: GET_ID answers with a 20-byte string. */
export const VIRTIO_BLK_ID_BYTES = 20;
/** Size of struct virtio_blk_config up to and including write_zeroes_may_unmap + padding. */
export const BLK_CONFIG_SIZE = 60;
/** Segments per request we announce (seg_max); queue size 128 minus header and status. */
export const BLK_SEG_MAX = 126;

export class MalformedRequestError extends VmmError {}

export interface BlkOptions {
  readonly?: boolean;
  /** GET_ID answer (at most 20 bytes used). */
  serial?: string;
  numQueues?: number;
  log?: (msg: string) => void;
}

export class BlkDisk {
  private readonly inflightWrites = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly capacity: number,
    private readonly opts: Required<BlkOptions>,
  ) {}

  /** Open a raw image; an image that cannot be opened is a BlkImageError naming the file. */
  static async open(path: string, opts: BlkOptions = {}): Promise<BlkDisk> {
    const full: Required<BlkOptions> = {
      readonly: opts.readonly ?? false,
      serial: opts.serial ?? 'irqbench-blk',
      numQueues: opts.numQueues ?? 1,
      log: opts.log ?? ((m) => process.stderr.write(`${m}\n`)),
    };
    let fh: FileHandle;
    try {
      fh = await open(path, full.readonly ? 'r' : 'r+');
    } catch (cause) {
      throw new BlkImageError(`cannot open disk image ${path}: ${(cause as Error).message}`, { cause });
    }
    const st = await fh.stat();
    if (!st.isFile() && !st.isBlockDevice()) {
      await fh.close();
      throw new BlkImageError(`disk image ${path} is not a regular file`);
    }
    return new BlkDisk(fh, path, Math.floor(st.size / SECTOR_SIZE), full);
  }

  get readonly(): boolean {
    return this.opts.readonly;
  }

  /** Device feature bits (the transport adds its own: VERSION_1, ring features...). */
  features(): bigint {
    let f = (1n << BigInt(VIRTIO_BLK_F_SEG_MAX)) | (1n << BigInt(VIRTIO_BLK_F_BLK_SIZE)) | (1n << BigInt(VIRTIO_BLK_F_FLUSH));
    if (this.opts.readonly) f |= 1n << BigInt(VIRTIO_BLK_F_RO);
    if (this.opts.numQueues > 1) f |= 1n << BigInt(VIRTIO_BLK_F_MQ);
    return f;
  }

  /** struct virtio_blk_config (§5.2.4), little-endian. */
  config(): Uint8Array {
    const b = new Uint8Array(BLK_CONFIG_SIZE);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, BigInt(this.capacity), true); // capacity in 512-byte sectors
    dv.setUint32(12, BLK_SEG_MAX, true); // seg_max
    dv.setUint32(20, SECTOR_SIZE, true); // blk_size
    dv.setUint16(34, this.opts.numQueues, true); // num_queues
    return b;
  }

  /**
   * Serve one request. Returns the bytes written into the chain's writable buffers
   * (data + status). Throws MalformedRequestError only when there is no status byte to
   * report through; every other problem is a status.
   */
  async handle(chain: DescChain): Promise<number> {
    if (this.closed) throw new MalformedRequestError('disk is closed');
    if (chain.writableBytes < 1) throw new MalformedRequestError(`request ${chain.head} has no status byte`);
    const dataIn = iovSlice(chain.writable, 0, chain.writableBytes - 1);
    const statusAt = chain.writableBytes - 1;
    const done = (status: number, written: number): number => {
      iovWrite(chain.writable, statusAt, Uint8Array.of(status));
      return written + 1;
    };
    if (chain.readableBytes < BLK_REQ_HEADER_SIZE) return done(VIRTIO_BLK_S_IOERR, 0);
    const hdr = new DataView(iovRead(chain.readable, 0, BLK_REQ_HEADER_SIZE).buffer);
    const type = hdr.getUint32(0, true);
    const sector = hdr.getBigUint64(8, true);
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const len = iovLength(dataIn);
        if (!this.inRange(sector, len)) return done(VIRTIO_BLK_S_IOERR, 0);
        const ok = await this.io('read', dataIn, Number(sector) * SECTOR_SIZE);
        return done(ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, ok ? len : 0);
      }
      case VIRTIO_BLK_T_OUT: {
        const data = iovSlice(chain.readable, BLK_REQ_HEADER_SIZE);
        const len = iovLength(data);
        if (this.opts.readonly || !this.inRange(sector, len)) return done(VIRTIO_BLK_S_IOERR, 0);
        const p = this.io('write', data, Number(sector) * SECTOR_SIZE);
        this.inflightWrites.add(p);
        try {
          return done((await p) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, 0);
        } finally {
          this.inflightWrites.delete(p);
        }
      }
      case VIRTIO_BLK_T_FLUSH:
        return done((await this.flush()) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, 0);
      case VIRTIO_BLK_T_GET_ID: {
        const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
        id.set(new TextEncoder().encode(this.opts.serial).subarray(0, VIRTIO_BLK_ID_BYTES));
        return done(VIRTIO_BLK_S_OK, iovWrite(dataIn, 0, id));
      }
      default:
        return done(VIRTIO_BLK_S_UNSUPP, 0);
    }
  }

  /** Wait for in-flight writes, then fdatasync. False (and logged) on failure. */
  async flush(): Promise<boolean> {
    await Promise.allSettled([...this.inflightWrites]);
    if (this.opts.readonly) return true;
    try {
      await this.fh.datasync();
      return true;
    } catch (e) {
      this.opts.log(`vhost-user-blk: fdatasync ${this.path}: ${(e as Error).message}`);
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.fh.close();
  }

  private inRange(sector: bigint, len: number): boolean {
    if (len % SECTOR_SIZE !== 0) return false;
    return sector <= BigInt(this.capacity) && BigInt(len / SECTOR_SIZE) <= BigInt(this.capacity) - sector;
  }

  /** Move all of `bufs` at `pos`, looping over short transfers. */
  private async io(kind: 'read' | 'write', bufs: Uint8Array[], pos: number): Promise<boolean> {
    try {
      let left = bufs;
      while (left.length > 0) {
        const n = kind === 'read' ? (await this.fh.readv(left, pos)).bytesRead : (await this.fh.writev(left, pos)).bytesWritten;
        if (n <= 0) throw new Error(kind === 'read' ? 'unexpected end of image' : 'write made no progress');
        pos += n;
        left = iovSlice(left, n);
      }
      return true;
    } catch (e) {
      this.opts.log(`vhost-user-blk: ${kind} ${this.path} at ${pos}: ${(e as Error).message}`);
      return false;
    }
  }
}
