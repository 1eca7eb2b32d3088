// The control socket of a running VM: statistics for scripts (`vmm stats --json`), a 10 Hz
// stream of snapshot + deltas, pause/resume/stop, and hostile clients.
import { describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { Machine } from '../../core/machine/machine.js';
import { DEFAULT_DEVICES } from '../../core/machine/config.js';
import { ControlServer } from '../../core/control/server.js';
import { controlRequest } from '../../core/control/client.js';
import { MAX_LINE } from '../../core/control/protocol.js';
import type { StatsMessage } from '../../core/stats/stream.js';
import type { MachineStats } from '../../core/stats/machine-stats.js';
import { guestPath, hasKvm } from '../support/guests.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmm-control-'));
if (!hasKvm) console.log('SKIP control: /dev/kvm is absent on this machine');

/** Lines a raw client receives for what it sends. */
function rawExchange(path: string, payload: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(path, () => sock.write(payload));
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      const got = buf.split('\n').filter(Boolean);
      if (got.length >= lines) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('close', () => resolve(buf.split('\n').filter(Boolean)));
    sock.on('error', reject);
  });
}

/** Send one endless line, as fast as the socket takes it, until the server answers. */
function flood(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const chunk = 'x'.repeat(64 * 1024);
    let buf = '';
    let answered = false;
    const pump = (): void => {
      while (!answered && !sock.destroyed && sock.write(chunk));
    };
    sock.setEncoding('utf8');
    sock.on('connect', pump);
    sock.on('drain', pump);
    sock.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      answered = true;
      sock.destroy();
      resolve(buf.slice(0, buf.indexOf('\n')));
    });
    sock.on('error', () => undefined); // EPIPE once the server hangs up
    sock.on('close', () => answered || reject(new Error(`the server hung up without an answer (${buf.length} bytes read)`)));
  });
}

describe.skipIf(!hasKvm)('control socket', () => {
  it('serves stats, streams deltas, pauses, resumes and stops; survives garbage', async () => {
    const m = new Machine({
      name: 'ctl', cpus: 2, memoryMiB: 64, irqchip: 'split',
      boot: { kind: 'auto', kernel: guestPath('serial'), cmdline: '' },
      devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
    });
    const path = join(tmp, 'vm.sock');
    const server = await ControlServer.listen(m, path);
    await m.start();
    try {
      const stats = (await controlRequest(path, { cmd: 'stats' })) as MachineStats;
      expect(stats.vcpus.map((v) => v.id)).toEqual([0, 1]);
      expect(stats.ioapic?.pins).toHaveLength(24);

      const garbage = await rawExchange(path, 'not json\n{"cmd":"format-disk"}\n{"cmd":"stats","extra":1}\n', 3);
      expect(garbage.map((l) => JSON.parse(l))).toEqual([
        { ok: false, error: 'bad request: not JSON' },
        expect.objectContaining({ ok: false, error: expect.stringMatching(/^bad request: cmd/) }),
        expect.objectContaining({ ok: false, error: expect.stringMatching(/^bad request/) }),
      ]);
      expect(JSON.parse(await flood(path))).toEqual({ ok: false, error: `request line longer than ${MAX_LINE} bytes` });

      const streamed = (await rawExchange(path, '{"id":7,"cmd":"stream","hz":20}\n', 4)).map((l) => (JSON.parse(l) as { value: StatsMessage }).value);
      expect(streamed[0]).toMatchObject({ kind: 'snapshot', seq: 0 });
      expect(streamed.slice(1).every((s) => s.kind === 'delta')).toBe(true);

      expect(await controlRequest(path, { cmd: 'pause' })).toEqual({ state: 'paused' });
      await expect.poll(() => m.vcpus.map((v) => v.reportedState())).toEqual(['paused', 'paused']);
      expect(await controlRequest(path, { cmd: 'resume' })).toEqual({ state: 'running' });
      expect(await controlRequest(path, { cmd: 'stop' })).toEqual({ state: 'stopping' });
      expect((await m.result).reason).toBe('stopped');
    } finally {
      await m.stop();
      server.close();
    }
  });

  it('vmm stats --json reads a VM started with vmm run --control', async () => {
    const sock = join(tmp, 'cli.sock');
    const vmm = join(packageRoot(), 'bin', 'vmm.js');
    const child = spawn(process.execPath, [vmm, 'run', guestPath('serial'), '--control', sock], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve) => child.stdout.on('data', (b: Buffer) => ((out += b.toString()), out.includes('LAB-READY') && resolve())));
    const r = spawnSync(process.execPath, [vmm, 'stats', '--json', sock], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const stats = JSON.parse(r.stdout) as MachineStats;
    expect(stats.devices.find((d) => d.name === 'uart@0x3f8')?.stats.txBytes).toBeGreaterThan(0);
    const table = spawnSync(process.execPath, [vmm, 'stats', sock], { encoding: 'utf8' });
    expect(table.stdout).toMatch(/^vmm exits\s+\d+/m);
    child.stdin.end('ping\n');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    const gone = spawnSync(process.execPath, [vmm, 'stats', sock], { encoding: 'utf8' });
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(/no VM is listening on .*cli\.sock/);
  });
});
