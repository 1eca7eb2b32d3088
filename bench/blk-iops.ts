// virtio-blk 4 KiB random-read IOPS (queue depth 1) from the same lab guest
// (guests/out/virtio.elf blk_iops_ms=N) in our VMM, with our vhost-user-blk device process,
// and in QEMU (-accel kvm) with QEMU's own virtio-blk-pci, in the same run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMachine } from '../core/machine/run.js';
import { DEFAULT_DEVICES } from '../core/machine/config.js';
import { guestsDir } from '../core/paths.js';

const IOPS_LINE = /LAB-IOPS virtio-blk qd=1 bs=4096 reads=(\d+) us=(\d+) iops=(\d+)/;
const QUIRKS = 'quirks=auto-eoi';

function parseIops(out: string, who: string): number {
  const m = IOPS_LINE.exec(out);
  if (!m) throw new Error(`${who}: no LAB-IOPS line in the guest output:\n${out.slice(-1500)}`);
  return Number(m[3]);
}

async function ours(image: string, ms: number): Promise<number> {
  let out = '';
  await runMachine(
    {
      name: 'bench-iops', cpus: 1, memoryMiB: 128, irqchip: 'kernel',
      boot: { kind: 'auto', kernel: join(guestsDir(), 'virtio.elf'), cmdline: `blk_iops_ms=${ms} ${QUIRKS}` },
      devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), { type: 'virtio-blk', image }],
    },
    { onConsole: (b) => (out += Buffer.from(b).toString('latin1')) },
  );
  return parseIops(out, 'vmm');
}

function qemu(image: string, ms: number): Promise<number> {
  const args = [
    '-accel', 'kvm', '-cpu', 'host', '-machine', 'pc', '-m', '128', '-display', 'none', '-no-reboot', '-nodefaults',
    '-kernel', join(guestsDir(), 'virtio.elf'), '-append', `blk_iops_ms=${ms} ${QUIRKS}`,
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-serial', 'stdio',
    '-drive', `file=${image},if=none,format=raw,id=d`, '-device', 'virtio-blk-pci,drive=d,disable-legacy=on',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (b: Buffer) => (out += b.toString('latin1')));
    child.on('exit', () => {
      clearTimeout(timer);
      try {
        resolve(parseIops(out, 'qemu'));
      } catch (e) {
        reject(e);
      }
    });
  });
}

export async function blkIopsBench(seconds = 2): Promise<{ vmm: number; qemu?: number; qemuSkipReason?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-iops-'));
  const image = join(dir, 'disk.img');
  writeFileSync(image, new Uint8Array(64 * 1024 * 1024));
  const ms = Math.round(seconds * 1000);
  try {
    const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
    const vmm = await ours(image, ms);
    if (!haveQemu) return { vmm, qemuSkipReason: 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' };
    return { vmm, qemu: await qemu(image, ms) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
