// Start-to-first-serial-line: `vmm run` on the hello lab guest against QEMU booting the same
// PVH ELF with `-accel kvm`, alternating runs in the same session; medians compared.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { guestsDir, packageRoot } from '../core/paths.js';

const FIRST_LINE = /Hello from lab guest|LAB-/;

function timeToFirstLine(cmd: string, args: string[], timeoutMs = 90_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd}: no serial line within ${timeoutMs} ms; output: ${out.slice(0, 400)}`));
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      const line = out.split('\n').find((l, i, all) => i < all.length - 1 && FIRST_LINE.test(l));
      if (line !== undefined) {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(ms);
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function bootBench(runs = 5): Promise<{ vmm: number; qemu?: number; qemuSkipReason?: string }> {
  const kernel = join(guestsDir(), 'hello.elf');
  const vmmArgs = [join(packageRoot(), 'bin', 'vmm.js'), 'run', kernel, '--cpus', '1', '--mem', '128'];
  const qemuArgs = [
    '-accel', 'kvm', '-machine', 'pc', '-cpu', 'host', '-m', '128', '-smp', '1', '-nographic', '-no-reboot',
    '-nodefaults', '-monitor', 'none', '-serial', 'stdio', '-kernel', kernel, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
  ];
  const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
  const vmm: number[] = [];
  const qemu: number[] = [];
  for (let i = 0; i < runs; i++) {
    vmm.push(await timeToFirstLine(process.execPath, vmmArgs));
    if (haveQemu) qemu.push(await timeToFirstLine('qemu-system-x86_64', qemuArgs));
  }
  return haveQemu
    ? { vmm: median(vmm), qemu: median(qemu) }
    : { vmm: median(vmm), qemuSkipReason: 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' };
}
