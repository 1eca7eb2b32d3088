// End-to-end vhost-user without a guest: our frontend talks to a vhost-user-blk back-end
// process over a real unix socket, guest RAM is a memfd-backed SharedArrayBuffer, and the
// test plays the virtio driver (descriptors, avail ring, kick eventfd, call eventfd, used
// ring). Back-ends: our devices/vhost-user-blk.ts, and qemu-storage-daemon when installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nativeUnix } from '../../core/vhost/native.js';
import { VhostUserFrontend } from '../../core/vhost/frontend.js';
import { createSharedGuestMemory, frontendRegions, type SharedGuestMemory } from '../../core/vhost/shared-memory.js';
import { VhostDisconnectError } from '../../core/vhost/channel.js';
import { pcLayout, MiB } from '../../core/memory/layout.js';
import { bit } from '../../core/vhost/protocol.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_VERSION_1 } from '../../core/virtio/constants.js';
import * as B from '../../core/virtio/blk.js';
import { packageRoot } from '../../core/paths.js';
import { DeviceProcess } from '../../core/vhost/device-process.js';
import { DriverQueue, signal, waitEventfd } from '../support/virtio-driver.js';

const EFD_NONBLOCK = 0o4000;
const IMAGE_BYTES = 1 * MiB;
const HDR = 0x100000;
const DATA = 0x110000;
const STATUS = 0x130000;
const QSD = '/usr/bin/qemu-storage-daemon';

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vhost-blk-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function spawnOurs(sock: string, image: string, extra: string[] = []): ChildProcess {
  const c = spawn(process.execPath, ['--import', 'tsx', join(packageRoot(), 'devices/vhost-user-blk.ts'), '--socket', sock, '--image', image, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(c);
  return c;
}

function spawnQsd(sock: string, image: string): ChildProcess {
  const c = spawn(QSD, [
    '--blockdev', `driver=file,node-name=f,filename=${image}`,
    '--export', `type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=${sock},writable=on`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  return c;
}

/** A connected, configured device with queue 0 running. */
class Rig {
  readonly n = nativeUnix();
  readonly ram: SharedGuestMemory;
  readonly q: DriverQueue;
  readonly kick: number;
  readonly call: number;
  fe!: VhostUserFrontend;

  constructor() {
    const layout = pcLayout(4 * MiB);
    this.ram = createSharedGuestMemory(layout);
    this.q = new DriverQueue(this.ram.memory, 0x10000, 128);
    this.kick = this.n.eventfd(0, EFD_NONBLOCK);
    this.call = this.n.eventfd(0, EFD_NONBLOCK);
  }

  async connect(sock: string, extraFeatures = 0n): Promise<bigint> {
    this.fe = await VhostUserFrontend.connect(sock, { connectTimeoutMs: 20_000, replyTimeoutMs: 5_000, name: 'test-blk' });
    return this.setup(extraFeatures);
  }

  /** Negotiate, share memory and start queue 0 on the connected frontend. */
  async setup(extraFeatures = 0n): Promise<bigint> {
    this.q.reset();
    const wanted = bit(VIRTIO_F_VERSION_1) | bit(B.VIRTIO_BLK_F_FLUSH) | bit(B.VIRTIO_BLK_F_BLK_SIZE) | bit(B.VIRTIO_BLK_F_SEG_MAX) | extraFeatures;
    const acked = await this.fe.negotiate(wanted);
    expect(acked & wanted).toBe(wanted);
    await this.fe.setMemTable(frontendRegions(this.ram.memory.layout, this.ram.memfd, this.ram.hva));
    await this.fe.startQueue(0, { size: 128, desc: this.q.desc, avail: this.q.avail, used: this.q.used, kickFd: this.kick, callFd: this.call });
    return acked;
  }

  /** One request, synchronously waited for through the call eventfd. */
  async request(type: number, sector: number, dataLen: number, dataWritable: boolean): Promise<{ status: number; len: number }> {
    const mem = this.ram.memory;
    mem.writeU32(HDR, type);
    mem.writeU32(HDR + 4, 0);
    mem.writeU64(HDR + 8, BigInt(sector));
    mem.writeU8(STATUS, 0xff);
    const bufs = [{ gpa: HDR, len: 16 }];
    if (dataLen > 0) bufs.push({ gpa: DATA, len: dataLen, write: dataWritable } as never);
    bufs.push({ gpa: STATUS, len: 1, write: true } as never);
    const head = this.q.add(bufs);
    let called = waitEventfd(this.call, 5_000);
    signal(this.kick);
    let used: { id: number; len: number }[] = [];
    // Interrupts may be spurious (libvhost-user signals call fds when they are set up).
    while (used.length === 0) {
      await called;
      used = this.q.takeUsed();
      if (used.length === 0) called = waitEventfd(this.call, 5_000);
    }
    expect(used.map((u) => u.id)).toEqual([head]);
    return { status: mem.readU8(STATUS), len: used[0]!.len };
  }

  close(): void {
    this.fe?.close();
    for (const fd of [this.kick, this.call, this.ram.memfd]) this.n.close(fd);
  }
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function writeFlushRead(rig: Rig, image: string, sector: number, seed: number): Promise<void> {
  const data = pattern(8192, seed);
  rig.ram.memory.write(DATA, data);
  expect(await rig.request(B.VIRTIO_BLK_T_OUT, sector, data.length, false)).toEqual({ status: B.VIRTIO_BLK_S_OK, len: 1 });
  expect((await rig.request(B.VIRTIO_BLK_T_FLUSH, 0, 0, false)).status).toBe(B.VIRTIO_BLK_S_OK);
  // completed + flushed: the bytes are in the image file
  expect(readFileSync(image).subarray(sector * 512, sector * 512 + data.length)).toEqual(Buffer.from(data));
  rig.ram.memory.fill(DATA, data.length, 0);
  expect(await rig.request(B.VIRTIO_BLK_T_IN, sector, data.length, true)).toEqual({ status: B.VIRTIO_BLK_S_OK, len: data.length + 1 });
  expect(rig.ram.memory.read(DATA, data.length)).toEqual(data);
}

describe('vhost-user-blk: our frontend + our back-end process', () => {
  it('negotiates, reads config, writes, flushes and reads back', async () => {
    const image = join(dir, 'a.img');
    writeFileSync(image, new Uint8Array(IMAGE_BYTES));
    const sock = join(dir, 'a.sock');
    spawnOurs(sock, image, ['--serial', 'test-serial']);
    const rig = new Rig();
    try {
      const acked = await rig.connect(sock);
      expect(acked & bit(B.VIRTIO_BLK_F_FLUSH)).not.toBe(0n);
      const cfg = new DataView((await rig.fe.getConfig(0, B.BLK_CONFIG_SIZE)).buffer);
      expect(cfg.getBigUint64(0, true)).toBe(BigInt(IMAGE_BYTES / 512));
      expect(cfg.getUint32(20, true)).toBe(512);
      await writeFlushRead(rig, image, 10, 1);
      expect(await rig.request(B.VIRTIO_BLK_T_GET_ID, 0, 20, true)).toEqual({ status: B.VIRTIO_BLK_S_OK, len: 21 });
      expect(Buffer.from(rig.ram.memory.read(DATA, 11)).toString()).toBe('test-serial');
      expect((await rig.request(B.VIRTIO_BLK_T_IN, IMAGE_BYTES / 512, 512, true)).status).toBe(B.VIRTIO_BLK_S_IOERR);
      expect((await rig.request(99, 0, 0, false)).status).toBe(B.VIRTIO_BLK_S_UNSUPP);
    } finally {
      rig.close();
    }
  });

  it('reports a killed back-end as a disconnect, and a restarted one serves the same data', async () => {
    const image = join(dir, 'b.img');
    writeFileSync(image, new Uint8Array(IMAGE_BYTES));
    const sock = join(dir, 'b.sock');
    const child = spawnOurs(sock, image);
    const rig = new Rig();
    try {
      await rig.connect(sock);
      await writeFlushRead(rig, image, 100, 7);
      const gone = new Promise<Error>((r) => rig.fe.onDisconnect(r));
      child.kill('SIGKILL');
      const reason = await gone;
      expect(reason).toBeInstanceOf(VhostDisconnectError);
      expect(rig.fe.state).toBe('failed');
      await expect(rig.fe.getFeatures()).rejects.toThrow(/peer closed/);
    } finally {
      rig.close();
    }
    spawnOurs(sock, image);
    const again = new Rig();
    try {
      await again.connect(sock);
      expect((await again.request(B.VIRTIO_BLK_T_IN, 100, 8192, true)).status).toBe(B.VIRTIO_BLK_S_OK);
      expect(again.ram.memory.read(DATA, 8192)).toEqual(pattern(8192, 7));
    } finally {
      again.close();
    }
  });

  it('works with VIRTIO_F_EVENT_IDX negotiated', async () => {
    const image = join(dir, 'e.img');
    writeFileSync(image, new Uint8Array(IMAGE_BYTES));
    const sock = join(dir, 'e.sock');
    spawnOurs(sock, image);
    const rig = new Rig();
    try {
      await rig.connect(sock, bit(VIRTIO_F_EVENT_IDX));
      for (let i = 0; i < 3; i++) await writeFlushRead(rig, image, 30 + 16 * i, i);
    } finally {
      rig.close();
    }
  });

  it('is supervised by DeviceProcess: crash reported, restart serves the data, bad image fails start', async () => {
    const image = join(dir, 's.img');
    writeFileSync(image, new Uint8Array(IMAGE_BYTES));
    const sock = join(dir, 's.sock');
    const args = ['--import', 'tsx', join(packageRoot(), 'devices/vhost-user-blk.ts'), '--socket', sock, '--image', image];
    const dev = new DeviceProcess({ command: process.execPath, args, socketPath: sock, connectTimeoutMs: 20_000 });
    const exits: { signal: string | null }[] = [];
    dev.onExit((e) => exits.push(e));
    const rig = new Rig();
    rig.fe = await dev.start();
    try {
      await rig.setup();
      await writeFlushRead(rig, image, 50, 9);
      const gone = new Promise<Error>((r) => rig.fe.onDisconnect(r));
      process.kill(dev.pid!, 'SIGKILL');
      expect(await gone).toBeInstanceOf(VhostDisconnectError);
      rig.fe = await dev.restart();
      await rig.setup();
      expect((await rig.request(B.VIRTIO_BLK_T_IN, 50, 8192, true)).status).toBe(B.VIRTIO_BLK_S_OK);
      expect(rig.ram.memory.read(DATA, 8192)).toEqual(pattern(8192, 9));
      await dev.stop();
      expect(exits.map((e) => e.signal)).toEqual(['SIGKILL', null]);
    } finally {
      rig.close();
      await dev.stop();
    }
    const bad = new DeviceProcess({ command: process.execPath, args: [...args.slice(0, -1), join(dir, 'nope.img')], socketPath: join(dir, 'n.sock') });
    await expect(bad.start()).rejects.toThrow(/exited with status 1 .*nope\.img/);
  });

  it('exits with a message naming an image that cannot be opened', () => {
    const missing = join(dir, 'no-such.img');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(packageRoot(), 'devices/vhost-user-blk.ts'), '--socket', join(dir, 'c.sock'), '--image', missing], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(missing);
  });
});

describe('vhost-user-blk: our frontend + qemu-storage-daemon', () => {
  const have = spawnSync(QSD, ['--version']).status === 0;
  if (!have) console.log(`skipping qemu-storage-daemon interop: ${QSD} not found (apt-get install qemu-system-common)`);
  it.skipIf(!have)('writes, flushes and reads back', async () => {
    const image = join(dir, 'q.img');
    writeFileSync(image, new Uint8Array(IMAGE_BYTES));
    const sock = join(dir, 'q.sock');
    spawnQsd(sock, image);
    const rig = new Rig();
    try {
      await rig.connect(sock, bit(VIRTIO_F_EVENT_IDX));
      const cfg = new DataView((await rig.fe.getConfig(0, 8)).buffer);
      expect(cfg.getBigUint64(0, true)).toBe(BigInt(IMAGE_BYTES / 512));
      await writeFlushRead(rig, image, 20, 3);
      await writeFlushRead(rig, image, 40, 4);
    } finally {
      rig.close();
    }
  });
});
