// `vmm irq-state` against a live guest in both irqchip modes: the serial lab guest has
// software-enabled its LAPIC and unmasked COM1's IOAPIC pin 4 by the time it prints
// LAB-READY; the snapshot pauses the VM, reads it, and resumes it so the guest still
// answers "ping" and exits 0.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { controlRequest } from '../../core/control/client.js';
import type { InterruptState } from '../../core/stats/irq-state.js';
import { guestPath, hasKvm } from '../support/guests.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmm-irq-state-'));
const COM1_PIN = 4;
const FIRST_EXTERNAL_VECTOR = 0x20;

describe.skipIf(!hasKvm)('vmm irq-state', () => {
  it.each(['kernel', 'split'] as const)('snapshots LAPIC and IOAPIC of a running guest (%s irqchip)', async (irqchip) => {
    const sock = join(tmp, `${irqchip}.sock`);
    const vmm = join(packageRoot(), 'bin', 'vmm.js');
    const child = spawn(process.execPath, [vmm, 'run', guestPath('serial'), '--irqchip', irqchip, '--control', sock], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => ((out += b.toString()), out.includes('LAB-READY') && resolve())));

    const r = spawnSync(process.execPath, [vmm, 'irq-state', '--json', sock], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as InterruptState;
    expect(s.irqchip).toBe(irqchip);
    expect(s.machineState).toBe('running');
    expect(s.vcpus[0]!.lapic.svr.enabled).toBe(true);
    const pin = s.ioapic!.pins[COM1_PIN]!;
    expect(pin.masked).toBe(false);
    expect(pin.vector).toBeGreaterThanOrEqual(FIRST_EXTERNAL_VECTOR);
    expect(s.ioapic!.source).toBe(irqchip === 'kernel' ? 'kernel' : 'userspace');
    expect(s.pics?.length ?? 0).toBe(irqchip === 'kernel' ? 2 : 0);

    const text = spawnSync(process.execPath, [vmm, 'irq-state', sock], { encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^SPIV +0x[0-9a-f]{8} APIC enabled/m);

    expect(await controlRequest(sock, { cmd: 'state' })).toMatchObject({ state: 'running' });

    child.stdin.end('ping\n');
    expect(await new Promise((res) => child.on('exit', res))).toBe(0);
  });
});
