import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConsoleEvent, StatsEvent, VmStateEvent } from '../api/contract.js';
import { DEFAULT_DEVICES, type MachineConfig } from '../machine/config.js';
import { HostRequestError, VmNotFoundError, VmStateError } from './errors.js';
import type { ServiceToHost } from './host-protocol.js';
import { VmSupervisor } from './supervisor.js';

const config = (name = 'demo'): MachineConfig => ({
  name,
  cpus: 1,
  memoryMiB: 64,
  irqchip: 'kernel',
  boot: { kind: 'auto', kernel: '/k', cmdline: '' },
  devices: DEFAULT_DEVICES,
});

class FakeHost extends EventEmitter {
  sent: ServiceToHost[] = [];
  killed = false;
  postMessage(m: ServiceToHost) {
    this.sent.push(m);
  }
  kill() {
    this.killed = true;
    return true;
  }
  lastCall() {
    return this.sent.filter((m) => m.type === 'call').at(-1) as Extract<ServiceToHost, { type: 'call' }>;
  }
}

const STATS = { t: 1000, irqchip: 'kernel', vcpus: [{ id: 0, state: 'running', exits: 5, localIo: 0, kvm: {} }], devices: [], buses: { pio: {}, mmio: {} } };

function setup() {
  const hosts: FakeHost[] = [];
  const states: VmStateEvent[] = [];
  const output: ConsoleEvent[] = [];
  const stats: StatsEvent[] = [];
  const log = vi.fn();
  const vms = new VmSupervisor(
    () => {
      const h = new FakeHost();
      hosts.push(h);
      return h;
    },
    { state: (e) => states.push(e), console: (e) => output.push(e), stats: (e) => stats.push(e) },
    { stopTimeoutMs: 5000, requestTimeoutMs: 5000, log },
  );
  return { vms, hosts, states, output, stats, log };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('VmSupervisor', () => {
  it('starts one host per VM and follows its lifecycle to exit', async () => {
    const { vms, hosts, states } = setup();
    const id = vms.start(config());
    expect(id).toBe('vm-1');
    expect(hosts[0]!.sent[0]).toEqual({ type: 'start', config: config(), statsHz: 10 });
    hosts[0]!.emit('message', { type: 'state', state: 'running' });
    expect(vms.list()).toMatchObject([{ id, profile: 'demo', platform: 'kvm', state: 'running' }]);
    const ended = vms.stop(id);
    expect(hosts[0]!.sent.at(-1)).toEqual({ type: 'stop' });
    hosts[0]!.emit('message', { type: 'state', state: 'stopped' }); // hidden while stopping
    hosts[0]!.emit('message', { type: 'exit', status: 0, reason: 'stopped' });
    await ended;
    expect(states.map((s) => s.state)).toEqual(['starting', 'running', 'stopping', 'exited']);
    expect(hosts[0]!.killed).toBe(true);
    hosts[0]!.emit('exit', 0); // the process ending afterwards changes nothing
    expect(vms.list()).toMatchObject([{ id, state: 'exited', exit: { status: 0, reason: 'stopped' } }]);
    expect(vms.running).toEqual([]);
  });

  it('keeps ended VMs listed until their profile starts again', () => {
    const { vms, hosts } = setup();
    vms.start(config('a'));
    vms.start(config('b'));
    hosts[0]!.emit('message', { type: 'error', name: 'KvmError', message: 'no KVM' });
    hosts[1]!.emit('message', { type: 'exit', status: 1, reason: 'debug-exit' });
    expect(vms.list().map((v) => [v.id, v.state, v.error ?? v.exit?.reason])).toEqual([
      ['vm-1', 'failed', 'no KVM'],
      ['vm-2', 'exited', 'debug-exit'],
    ]);
    vms.start(config('a'));
    expect(vms.list().map((v) => v.id)).toEqual(['vm-2', 'vm-3']);
  });

  it('kills a VM that does not stop in time and reports it failed', async () => {
    const { vms, hosts, states } = setup();
    const id = vms.start(config());
    const ended = vms.stop(id);
    expect(vms.stop(id)).toBe(ended); // a second stop waits for the same end
    vi.advanceTimersByTime(5000);
    await ended;
    expect(hosts[0]!.killed).toBe(true);
    expect(states.at(-1)).toEqual({ id, state: 'failed', error: 'the VM did not stop within 5 s and was killed' });
  });

  it('reports a crashed host with what to do', () => {
    const { vms, hosts, states } = setup();
    const id = vms.start(config());
    hosts[0]!.emit('exit', 139);
    expect(states.at(-1)).toMatchObject({ id, state: 'failed', error: expect.stringMatching(/ended unexpectedly \(exit code 139\); start it again/) });
  });

  it('fails a VM whose host sends an invalid message, and counts it', () => {
    const { vms, hosts, states, log } = setup();
    const id = vms.start(config());
    hosts[0]!.emit('message', { type: 'console', data: 'not bytes' });
    expect(states.at(-1)).toMatchObject({ id, state: 'failed', error: expect.stringContaining('invalid message') });
    expect(vms.badMessages.get(id)).toBe(1);
    expect(log).toHaveBeenCalled();
    expect(hosts[0]!.killed).toBe(true);
  });

  it('forwards console output and keeps a backlog', () => {
    const { vms, hosts, output } = setup();
    const id = vms.start(config());
    hosts[0]!.emit('message', { type: 'console', data: new Uint8Array([104, 105]) });
    hosts[0]!.emit('message', { type: 'console', data: new Uint8Array([33]) });
    expect(output).toEqual([
      { id, data: new Uint8Array([104, 105]) },
      { id, data: new Uint8Array([33]) },
    ]);
    expect(vms.consoleBacklog(id)).toEqual(new Uint8Array([104, 105, 33]));
    vms.sendConsole(id, new Uint8Array([10]));
    expect(hosts[0]!.sent.at(-1)).toEqual({ type: 'console-in', data: new Uint8Array([10]) });
    expect(() => vms.consoleBacklog('vm-9')).toThrow(VmNotFoundError);
  });

  it('forwards statistics and answers snapshots from the stream once the VM ended', async () => {
    const { vms, hosts, stats } = setup();
    const id = vms.start(config());
    const snapshot = { kind: 'snapshot', seq: 0, t: 1000, stats: STATS, counters: { 'vcpu0.exits': 5, 'vcpu0.localIo': 0 } } as const;
    const delta = { kind: 'delta', seq: 1, t: 1100, dt: 100, changes: { 'vcpu0.exits': { value: 15, rate: 100 } } } as const;
    hosts[0]!.emit('message', { type: 'stats', msg: snapshot });
    hosts[0]!.emit('message', { type: 'stats', msg: delta });
    expect(stats).toEqual([
      { id, msg: snapshot },
      { id, msg: delta },
    ]);
    hosts[0]!.emit('message', { type: 'exit', status: 0, reason: 'done' });
    await expect(vms.statsSnapshot(id)).resolves.toEqual({
      stats: { ...STATS, t: 1100 },
      counters: { 'vcpu0.exits': 15, 'vcpu0.localIo': 0 },
      rates: { 'vcpu0.exits': 100, 'vcpu0.localIo': 0 },
    });
  });

  it('asks a running VM for a fresh statistics sample', async () => {
    const { vms, hosts } = setup();
    const id = vms.start(config());
    const snap = vms.statsSnapshot(id);
    const call = hosts[0]!.lastCall();
    expect(call).toMatchObject({ method: 'stats', args: [] });
    hosts[0]!.emit('message', { type: 'reply', id: call.id, ok: true, value: STATS });
    await expect(snap).resolves.toMatchObject({ stats: STATS, counters: { 'vcpu0.exits': 5 } });
  });

  it('carries requests to the host and validates the replies', async () => {
    const { vms, hosts } = setup();
    const id = vms.start(config());
    const pirqs = vms.call(id, 'xenPirqs', []);
    const c1 = hosts[0]!.lastCall();
    hosts[0]!.emit('message', { type: 'reply', id: c1.id, ok: true, value: [{ pirq: 16, source: 'gsi 16', port: 5, count: 2, dropped: 0 }] });
    await expect(pirqs).resolves.toEqual([{ pirq: 16, source: 'gsi 16', port: 5, count: 2, dropped: 0 }]);

    const refused = vms.call(id, 'fireVector', ['virtio-blk0', 1, 1]);
    hosts[0]!.emit('message', { type: 'reply', id: hosts[0]!.lastCall().id, ok: false, error: { name: 'ControllerError', message: 'virtio-blk0 cannot fire vectors' } });
    await expect(refused).rejects.toThrow('virtio-blk0 cannot fire vectors');

    const garbage = vms.call(id, 'routingTable', []);
    hosts[0]!.emit('message', { type: 'reply', id: hosts[0]!.lastCall().id, ok: true, value: { entries: 'all of them' } });
    await expect(garbage).rejects.toThrow(/malformed data \(entries\)/);
    expect(vms.badMessages.get(id)).toBe(1);
  });

  it('times requests out and fails them when the VM ends', async () => {
    const { vms, hosts } = setup();
    const id = vms.start(config());
    const slow = vms.call(id, 'irqState', []);
    vi.advanceTimersByTime(5000);
    await expect(slow).rejects.toThrow(HostRequestError);
    await expect(slow).rejects.toThrow(`VM ${id} did not answer irqState within 5 s`);
    const orphan = vms.call(id, 'xenPorts', []);
    hosts[0]!.emit('exit', 1);
    await expect(orphan).rejects.toThrow(VmStateError);
    expect(() => vms.call(id, 'pause', [])).toThrow(/is not running \(failed\)/);
  });

  it('reports a host that cannot be spawned', () => {
    const states: VmStateEvent[] = [];
    const vms = new VmSupervisor(
      () => {
        throw new Error('out/node is missing');
      },
      { state: (e) => states.push(e), console: vi.fn(), stats: vi.fn() },
    );
    const id = vms.start(config());
    expect(states.at(-1)).toMatchObject({ id, state: 'failed', error: expect.stringContaining('out/node is missing') });
  });

  it('stops every VM on shutdown', async () => {
    const { vms, hosts } = setup();
    vms.start(config('a'));
    vms.start(config('b'));
    const all = vms.stopAll();
    for (const h of hosts) {
      expect(h.sent.at(-1)).toEqual({ type: 'stop' });
      h.emit('message', { type: 'exit', status: 0, reason: 'stopped' });
    }
    await all;
    expect(vms.running).toEqual([]);
  });
});
