// Machine lifecycle on KVM: crash handling with a register dump, pause/resume/stop while
// vCPUs are inside KVM_RUN, and bad images rejected before anything runs.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasKvm, runGuestFile, tripleFaultKernel, guestPath } from '../support/guests.js';
import { Machine } from '../../core/machine/machine.js';
import { DEFAULT_DEVICES, type MachineConfig } from '../../core/machine/config.js';

if (!hasKvm) console.log('SKIP machine: /dev/kvm is absent on this machine');

const tmp = mkdtempSync(join(tmpdir(), 'vmm-machine-'));
const config = (kernel: string, cpus = 2): MachineConfig => ({
  name: 't', cpus, memoryMiB: 64, irqchip: 'kernel',
  boot: { kind: 'auto', kernel, cmdline: '' },
  devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
});

describe.skipIf(!hasKvm)('machine', () => {
  it('puts a triple-faulting guest in the crashed state with a register dump', async () => {
    const kernel = join(tmp, 'triple.elf');
    writeFileSync(kernel, tripleFaultKernel());
    const t0 = Date.now();
    const run = await runGuestFile(kernel, { cpus: 2 });
    expect(run.result.reason).toBe('crash');
    expect(run.result.status).not.toBe(0);
    expect(run.result.detail).toMatch(/triple fault/);
    const log = run.log.join('\n');
    expect(log).toMatch(/RIP=0000000000100007/);
    expect(log).toMatch(/IDT=\s+0000000000000000 00000000/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('pauses, resumes and stops vCPUs blocked in KVM_RUN', async () => {
    let out = '';
    const states: string[] = [];
    let ready!: () => void;
    const readyP = new Promise<void>((r) => (ready = r));
    const m = new Machine(config(guestPath('serial')), {
      onConsole: (b) => {
        out += Buffer.from(b).toString();
        if (out.includes('LAB-READY serial-rx')) ready();
      },
      onState: (s) => states.push(s),
    });
    await m.start();
    await readyP;
    m.pause();
    await expect.poll(() => m.vcpus.map((v) => v.reportedState())).toEqual(['paused', 'paused']);
    expect(m.state).toBe('paused');
    m.resume();
    await expect.poll(() => m.vcpus.map((v) => v.reportedState())).toEqual(['running', 'running']);
    const result = await m.stop();
    expect(result.reason).toBe('stopped');
    expect(m.vcpus.map((v) => v.state)).toEqual(['stopped', 'stopped']);
    expect(states).toEqual(['running', 'paused', 'running', 'stopped']);
  });

  it('stops cleanly however early stop() comes (APs still waiting for SIPI in KVM_RUN)', async () => {
    for (const delayMs of [-1, 0, 1, 5, 20]) {
      const m = new Machine(config(guestPath('serial')));
      const started = m.start();
      if (delayMs >= 0) await new Promise((r) => setTimeout(r, delayMs));
      const result = await m.stop();
      await started;
      expect(result.reason).toBe('stopped');
      expect(m.vcpus.map((v) => v.state).every((s) => s === 'stopped' || s === 'created')).toBe(true);
    }
  });

  it('rejects a missing or unrecognised image with an error naming it', () => {
    expect(() => new Machine(config(join(tmp, 'nope.elf')))).toThrow(/cannot read the kernel image .*nope\.elf/);
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'just some text, not a kernel\n'.repeat(20));
    expect(() => new Machine(config(text))).toThrow(/notes\.txt|unknown|not a kernel|detected/i);
  });
});
