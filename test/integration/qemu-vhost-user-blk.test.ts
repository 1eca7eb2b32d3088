// Interoperability, the other way round: QEMU is the vhost-user front-end and our
// devices/vhost-user-blk.ts is the back-end. QEMU with software emulation (TCG; this
// machine's KVM cannot boot Linux) boots Debian's stock kernel with a busybox initramfs;
// Linux's own virtio_pci + virtio_blk drivers find the disk, read a pattern the test put
// in the image, write a new one at another offset and flush it, and /proc/interrupts shows
// the disk's MSI-X vectors ("PCI-MSI" virtioN-config / virtioN-req.0). Guest RAM reaches
// our process as QEMU's memfd (memory-backend-memfd,share=on).
// Needs qemu-system-x86, busybox-static and scripts/fetch-debian-kernel.sh's kernel and
// modules; skips, saying which is missing, otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../core/paths.js';
import { busyboxInitramfs } from '../support/initramfs.js';

const KERNEL_DIR = join(packageRoot(), '.cache', 'debian-kernel');
const MODULE_DIR = join(KERNEL_DIR, 'modules');
// virtio_pci's dependencies first (busybox insmod does not resolve them), then the disk.
const MODULES = ['virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_ring', 'virtio', 'virtio_pci', 'virtio_blk'];
const QEMU = 'qemu-system-x86_64';
const MiB = 1024 * 1024;
const IMAGE_BYTES = 16 * MiB;
const READ_BYTES = 1 * MiB; // the test's pattern at offset 0, read by the guest
const WRITE_OFFSET = 2 * MiB; // where the guest writes its own pattern
const WRITE_BYTES = 64 * 1024;
const SERIAL = 'irqbench-interop';
const BOOT_TIMEOUT_MS = 120_000;

/** A statically linked executable: an ELF with no PT_INTERP program header. */
function isStaticElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false;
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false;
    return true;
  } finally {
    closeSync(fd);
  }
}

function findBusybox(): string | undefined {
  return ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p) && isStaticElf(p));
}

function missing(): string | undefined {
  if (spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status !== 0) return `no ${QEMU} (install qemu-system-x86)`;
  if (!findBusybox()) return 'no statically linked busybox (install busybox-static)';
  if (!existsSync(join(KERNEL_DIR, 'vmlinuz'))) return `no Debian kernel in ${KERNEL_DIR}; run scripts/fetch-debian-kernel.sh`;
  const absent = MODULES.filter((m) => !existsSync(join(MODULE_DIR, `${m}.ko`)));
  if (absent.length) return `no ${absent.join(', ')} in ${MODULE_DIR}; run scripts/fetch-debian-kernel.sh`;
  return undefined;
}

const skipReason = missing();
if (skipReason) console.log(`SKIP qemu-vhost-user-blk: ${skipReason}`);

// The guest's /init. Every line the test looks at starts with "IRQB-".
const INIT = `
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo IRQB-BOOTED
for m in ${MODULES.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "IRQB-ERROR insmod $m"
done
i=0
while [ ! -e /sys/block/vda/dev ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -b /dev/vda ] && [ -e /sys/block/vda/dev ]; then
  mknod /dev/vda b $(cut -d: -f1 /sys/block/vda/dev) $(cut -d: -f2 /sys/block/vda/dev)
fi
if [ -b /dev/vda ]; then
  echo "IRQB-SIZE $(cat /sys/block/vda/size)"
  echo "IRQB-SERIAL $(cat /sys/block/vda/serial)"
  echo "IRQB-READ $(dd if=/dev/vda bs=65536 count=${READ_BYTES / 65536} 2>/dev/null | sha256sum | cut -d' ' -f1)"
  nonce=$(sed -n 's/.*irqb.nonce=\\([0-9a-f]*\\).*/\\1/p' /proc/cmdline)
  yes "irqbench guest write $nonce" | head -c ${WRITE_BYTES} > /tmp/w
  dd if=/tmp/w of=/dev/vda bs=65536 seek=${WRITE_OFFSET / 65536} conv=notrunc,fsync 2>/dev/null && echo IRQB-WROTE
  sync
  echo 3 > /proc/sys/vm/drop_caches
  echo "IRQB-READBACK $(dd if=/dev/vda bs=65536 skip=${WRITE_OFFSET / 65536} count=${WRITE_BYTES / 65536} 2>/dev/null | sha256sum | cut -d' ' -f1)"
else
  echo "IRQB-ERROR no /dev/vda"
fi
echo IRQB-INTERRUPTS-BEGIN
cat /proc/interrupts
echo IRQB-INTERRUPTS-END
echo IRQB-DONE
poweroff -f
`;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const field = (out: string, key: string): string | undefined => new RegExp(`^${key} (\\S*)\\r?$`, 'm').exec(out)?.[1];

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'qemu-vublk-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the process's exit (code, signal), or with undefined after `ms`. */
function exited(c: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve({ code: c.exitCode, signal: c.signalCode });
    const t = setTimeout(() => resolve(undefined), ms);
    c.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

describe.skipIf(skipReason !== undefined)('QEMU (TCG) + Debian kernel + our vhost-user-blk back-end', () => {
  it('Linux virtio_blk reads and writes the image over MSI-X', { timeout: 200_000 }, async () => {
    const t0 = Date.now();
    const image = join(dir, 'disk.img');
    const sock = join(dir, 'blk.sock');
    const initrd = join(dir, 'initrd.cpio');
    const pattern = randomBytes(READ_BYTES);
    const img = Buffer.alloc(IMAGE_BYTES);
    pattern.copy(img, 0);
    writeFileSync(image, img);
    writeFileSync(initrd, busyboxInitramfs({ busybox: findBusybox()!, modules: MODULES.map((m) => join(MODULE_DIR, `${m}.ko`)), init: INIT }));
    const nonce = randomBytes(8).toString('hex');
    const expectedWrite = Buffer.from(`irqbench guest write ${nonce}\n`.repeat(Math.ceil(WRITE_BYTES / 30)), 'latin1').subarray(0, WRITE_BYTES);

    // Our back-end, run from source like the other vhost-user tests.
    const backend = spawn(process.execPath, ['--import', 'tsx', join(packageRoot(), 'devices/vhost-user-blk.ts'), '--socket', sock, '--image', image, '--serial', SERIAL], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(backend);
    let backendLog = '';
    const serving = new Promise<void>((resolve, reject) => {
      backend.stderr!.setEncoding('utf8').on('data', (s: string) => {
        backendLog += s;
        if (backendLog.includes('serving ')) resolve();
      });
      backend.once('exit', (code, signal) => reject(new Error(`vhost-user-blk exited (${code ?? signal}) before serving: ${backendLog.trim()}`)));
    });
    await serving;
    const tBackend = Date.now();

    const qemu = spawn(QEMU, [
      '-accel', 'tcg', '-m', '512', '-smp', '1',
      '-object', 'memory-backend-memfd,id=mem,size=512M,share=on', '-numa', 'node,memdev=mem',
      '-chardev', `socket,id=c,path=${sock}`, '-device', 'vhost-user-blk-pci,chardev=c',
      '-kernel', join(KERNEL_DIR, 'vmlinuz'), '-initrd', initrd,
      '-append', `console=ttyS0 quiet panic=-1 irqb.nonce=${nonce}`,
      '-nographic', '-no-reboot', '-nic', 'none',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(qemu);
    let out = '';
    let qemuErr = '';
    qemu.stdout!.setEncoding('latin1').on('data', (s: string) => (out += s));
    qemu.stderr!.setEncoding('utf8').on('data', (s: string) => (qemuErr += s));
    const qemuExit = await exited(qemu, BOOT_TIMEOUT_MS);
    if (!qemuExit) qemu.kill('SIGKILL');
    const tGuest = Date.now();
    const report = `guest console:\n${out}\nqemu stderr:\n${qemuErr}\nback-end stderr:\n${backendLog}`;
    console.log(`qemu-vhost-user-blk: back-end up in ${tBackend - t0} ms, QEMU boot to poweroff in ${tGuest - tBackend} ms`);

    expect(qemuExit, `QEMU did not power off within ${BOOT_TIMEOUT_MS / 1000} s\n${report}`).toEqual({ code: 0, signal: null });
    expect(out, report).toContain('IRQB-DONE');
    expect(out, report).not.toContain('IRQB-ERROR');
    expect(field(out, 'IRQB-SIZE'), report).toBe(String(IMAGE_BYTES / 512));
    expect(field(out, 'IRQB-SERIAL'), report).toBe(SERIAL);
    // The guest read the test's pattern through our back-end...
    expect(field(out, 'IRQB-READ'), report).toBe(sha256(pattern));
    // ...and wrote, flushed and (page cache dropped) read back its own.
    expect(out, report).toMatch(/^IRQB-WROTE\r?$/m);
    expect(field(out, 'IRQB-READBACK'), report).toBe(sha256(expectedWrite));

    // The disk's interrupts are MSI-X vectors: Linux 6.1 labels them PCI-MSI, named
    // virtioN-config and virtioN-req.0; the request vector has fired.
    const interrupts = /IRQB-INTERRUPTS-BEGIN\r?\n([\s\S]*?)IRQB-INTERRUPTS-END/.exec(out)?.[1] ?? '';
    console.log(`qemu-vhost-user-blk: guest /proc/interrupts (virtio lines):\n${interrupts.split('\n').filter((l) => /virtio/.test(l)).join('\n')}`);
    expect(interrupts, report).toMatch(/PCI-MSI.*virtio\d+-config/);
    const req = /^\s*\d+:\s+(\d+)\s+PCI-MSI\s+\S+\s+virtio\d+-req\.0/m.exec(interrupts);
    expect(req, report).not.toBeNull();
    expect(Number(req![1])).toBeGreaterThan(0);

    // After QEMU is gone, the guest's pattern is in the image file and the test's is intact.
    const after = readFileSync(image);
    expect(after.subarray(WRITE_OFFSET, WRITE_OFFSET + WRITE_BYTES).equals(expectedWrite), 'guest write in the image').toBe(true);
    expect(after.subarray(0, READ_BYTES).equals(pattern), 'test pattern intact').toBe(true);

    // The back-end survived the front-end going away and stops cleanly.
    expect(backend.exitCode, backendLog).toBeNull();
    backend.kill('SIGTERM');
    expect(await exited(backend, 10_000), backendLog).toEqual({ code: 0, signal: null });
  });
});
