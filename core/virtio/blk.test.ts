import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as B from './blk.js';
import type { DescChain } from './virtqueue.js';

const dir = mkdtempSync(join(tmpdir(), 'blk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function image(name: string, bytes = 64 * 1024): string {
  const p = join(dir, name);
  writeFileSync(p, new Uint8Array(bytes));
  return p;
}

function hdr(type: number, sector: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, type, true);
  dv.setBigUint64(8, BigInt(sector), true);
  return b;
}

function chain(readable: Uint8Array[], writable: Uint8Array[]): DescChain {
  const sum = (l: Uint8Array[]) => l.reduce((a, b) => a + b.length, 0);
  return { head: 0, readable, writable, readableBytes: sum(readable), writableBytes: sum(writable) };
}

const log = (): void => undefined;

describe('BlkDisk', () => {
  it('writes scattered data and reads it back across split buffers', async () => {
    const path = image('a.img');
    const d = await B.BlkDisk.open(path, { log });
    expect(d.capacity).toBe(128);
    const data = new Uint8Array(1024).map((_, i) => i & 0xff);
    const status = new Uint8Array(1);
    // header split over two buffers, data over two more
    const h = hdr(B.VIRTIO_BLK_T_OUT, 2);
    expect(await d.handle(chain([h.subarray(0, 5), h.subarray(5), data.subarray(0, 100), data.subarray(100)], [status]))).toBe(1);
    expect(status[0]).toBe(B.VIRTIO_BLK_S_OK);
    expect(readFileSync(path).subarray(1024, 2048)).toEqual(Buffer.from(data));
    const back = [new Uint8Array(700), new Uint8Array(324)];
    expect(await d.handle(chain([hdr(B.VIRTIO_BLK_T_IN, 2)], [...back, status]))).toBe(1025);
    expect(Buffer.concat(back)).toEqual(Buffer.from(data));
    await d.close();
  });

  it('answers bad requests with a status, never by throwing', async () => {
    const d = await B.BlkDisk.open(image('b.img'), { log });
    const status = new Uint8Array(1);
    const run = async (r: Uint8Array[], w: Uint8Array[]) => (await d.handle(chain(r, [...w, status])), status[0]);
    expect(await run([new Uint8Array(10)], [])).toBe(B.VIRTIO_BLK_S_IOERR); // short header
    expect(await run([hdr(B.VIRTIO_BLK_T_IN, 0)], [new Uint8Array(100)])).toBe(B.VIRTIO_BLK_S_IOERR); // not whole sectors
    expect(await run([hdr(B.VIRTIO_BLK_T_IN, 128)], [new Uint8Array(512)])).toBe(B.VIRTIO_BLK_S_IOERR); // past the end
    expect(await run([hdr(B.VIRTIO_BLK_T_OUT, 0xffff_ffff_ffff)], [])).toBe(B.VIRTIO_BLK_S_IOERR);
    expect(await run([hdr(42, 0)], [])).toBe(B.VIRTIO_BLK_S_UNSUPP);
    expect(await run([hdr(B.VIRTIO_BLK_T_FLUSH, 0)], [])).toBe(B.VIRTIO_BLK_S_OK);
    await expect(d.handle(chain([hdr(B.VIRTIO_BLK_T_IN, 0)], []))).rejects.toBeInstanceOf(B.MalformedRequestError);
    await d.close();
  });

  it('refuses writes to a read-only image and says so in its features', async () => {
    const d = await B.BlkDisk.open(image('c.img'), { readonly: true, log });
    expect(d.features() & (1n << BigInt(B.VIRTIO_BLK_F_RO))).not.toBe(0n);
    const status = new Uint8Array(1);
    await d.handle(chain([hdr(B.VIRTIO_BLK_T_OUT, 0), new Uint8Array(512)], [status]));
    expect(status[0]).toBe(B.VIRTIO_BLK_S_IOERR);
    await d.close();
  });

  it('names the file it cannot open', async () => {
    await expect(B.BlkDisk.open(join(dir, 'missing.img'))).rejects.toThrow(/cannot open disk image .*missing\.img/);
  });

  it('fills config space', async () => {
    const d = await B.BlkDisk.open(image('d.img'), { log });
    const c = new DataView(d.config().buffer);
    expect(c.getBigUint64(0, true)).toBe(128n);
    expect(c.getUint32(12, true)).toBe(B.BLK_SEG_MAX);
    expect(c.getUint32(20, true)).toBe(512);
    expect(c.getUint16(34, true)).toBe(1);
    await d.close();
  });
});
