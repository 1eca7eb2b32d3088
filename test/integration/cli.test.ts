// The `vmm` command as users run it: console on stdout, the guest's status as exit code,
// one clear line on stderr for every failure, nothing left hanging.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { hasKvm, guestPath, tripleFaultKernel, GUEST_QUIRKS } from '../support/guests.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmm-cli-'));
const vmm = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(packageRoot(), 'bin', 'vmm.js'), ...args], { encoding: 'utf8', input: input ?? '', timeout: 60_000 });

if (!hasKvm) console.log('SKIP cli (KVM parts): /dev/kvm is absent on this machine');

describe('vmm CLI', () => {
  it('prints usage and fails with one line on bad arguments', () => {
    const r = vmm(['run', 'x.elf', '--irqchip', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('vmm: --irqchip must be "kernel" or "split", got "nope"');
    expect(r.stderr).toContain('usage:');
  });

  it('names a missing image', () => {
    const r = vmm(['run', join(tmp, 'missing.elf')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^vmm: .*missing\.elf.*not found/m);
  });

  it.skipIf(!hasKvm)('names what it detected in an unrecognised image', () => {
    const iso = join(tmp, 'disk.iso');
    const bytes = new Uint8Array(0x9000);
    bytes.set(Buffer.from('CD001'), 0x8001);
    writeFileSync(iso, bytes);
    const r = vmm(['run', iso]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/disk\.iso.*ISO 9660/i);
  });

  it.skipIf(!hasKvm)('runs a lab guest with the console on stdout and exits with its status', () => {
    const r = vmm(['run', guestPath('hello'), '--cpus', '2', '--cmdline', 'from=cli']);
    expect(r.stdout).toContain('Hello from lab guest hello');
    expect(r.stdout).toContain('from=cli');
    expect(r.stdout).toMatch(/LAB-DONE hello pass=\d+ fail=0/);
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasKvm)('runs the demo profile', () => {
    const r = vmm(['run', '--demo']);
    expect(r.stdout).toMatch(/LAB-DONE hello pass=\d+ fail=0/);
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasKvm)('runs a profile file and passes console input to the guest', async () => {
    const profile = join(tmp, 'serial.json');
    writeFileSync(profile, JSON.stringify({ version: 1, name: 'serial', platform: 'kvm', cpus: 1, memoryMiB: 64, boot: { kernel: guestPath('serial') } }));
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'vmm.js'), 'run', profile], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      // Type only once the guest listens, as a person at the console would.
      if (out.includes('LAB-READY serial-rx') && !child.stdin.writableEnded) child.stdin.end('ping\n');
    });
    const status = await new Promise<number | null>((r) => child.on('exit', r));
    expect(out).toContain('got: ping');
    expect(status).toBe(0);
  });

  it('rejects an invalid profile naming the field', () => {
    const profile = join(tmp, 'bad.json');
    writeFileSync(profile, JSON.stringify({ version: 1, name: 'bad', platform: 'kvm', cpus: 999, memoryMiB: 64, boot: { kernel: 'k' } }));
    const r = vmm(['run', profile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.json.*cpus/);
  });

  it.skipIf(!hasKvm)('reports a triple fault with a register dump and a non-zero status', () => {
    const kernel = join(tmp, 'triple.elf');
    writeFileSync(kernel, tripleFaultKernel());
    const r = vmm(['run', kernel]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/triple fault/);
    expect(r.stderr).toMatch(/RIP=0000000000100007/);
  });

  it.skipIf(!hasKvm)('stops a guest at --timeout with status 124', () => {
    const r = vmm(['run', guestPath('serial'), '--timeout', '1']);
    expect(r.status).toBe(124);
    expect(r.stderr).toMatch(/timed out after 1 s/);
  });

  it.skipIf(!hasKvm)('prints interrupt statistics when the VM ends (--stats)', () => {
    const r = vmm(['run', guestPath('ioapic'), '--irqchip', 'split', '--cpus', '2', '--stats', '--cmdline', GUEST_QUIRKS]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^\s+CPU0\s+CPU1$/m);
    expect(r.stderr).toMatch(/^vmm exits\s+[1-9]\d*\s+\d+$/m);
    expect(r.stderr).toMatch(/IOAPIC \(userspace, split irqchip\)/);
    // The ioapic guest drives ISA IRQ 10 and 11 through the IRQ-line test device.
    expect(r.stderr).toMatch(/^1[01]\s+0x[0-9a-f]+\s+\d+\s+(edge|level)\s+(yes|no)\s+[1-9]/m);
    expect(r.stderr).toMatch(/uart@0x3f8\s+txBytes=[1-9]/);
  });

  it.skipIf(!hasKvm)('prints KVM capabilities', () => {
    const r = vmm(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/KVM_CAP_IRQCHIP\s+yes/);
    expect(r.stdout).toMatch(/KVM_CAP_SPLIT_IRQCHIP\s+yes/);
  });
});
