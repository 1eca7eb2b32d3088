import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ConsoleEvent, VmStateEvent } from '../core/api/contract.js';
import { DEFAULT_DEVICES, type MachineConfig } from '../core/machine/config.js';
import type { MainToHost } from './host-protocol.js';
import { VmManager, VmNotFoundError } from './vms.js';

const config: MachineConfig = {
  name: 'demo',
  cpus: 1,
  memoryMiB: 64,
  irqchip: 'kernel',
  boot: { kind: 'auto', kernel: '/k', cmdline: '' },
  devices: DEFAULT_DEVICES,
};

class FakeHost extends EventEmitter {
  sent: MainToHost[] = [];
  killed = false;
  postMessage(m: MainToHost) {
    this.sent.push(m);
  }
  kill() {
    this.killed = true;
    return true;
  }
}

function setup() {
  const hosts: FakeHost[] = [];
  const states: VmStateEvent[] = [];
  const output: ConsoleEvent[] = [];
  const vms = new VmManager(
    () => {
      const h = new FakeHost();
      hosts.push(h);
      return h;
    },
    { state: (e) => states.push(e), console: (e) => output.push(e) },
    1000,
  );
  return { vms, hosts, states, output };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('VmManager', () => {
  it('starts a host per VM and forwards its messages', () => {
    const { vms, hosts, states, output } = setup();
    const id = vms.start(config);
    expect(id).toBe('vm-1');
    expect(vms.start(config)).toBe('vm-2');
    const host = hosts[0]!;
    expect(host.sent).toEqual([{ type: 'start', config }]);
    host.emit('message', { type: 'state', state: 'running' });
    host.emit('message', { type: 'console', data: new Uint8Array([104, 105]) });
    host.emit('message', { type: 'exit', status: 0, reason: 'debug-exit' });
    expect(output).toEqual([{ id, data: new Uint8Array([104, 105]) }]);
    expect(states.filter((s) => s.id === id)).toEqual([
      { id, state: 'starting' },
      { id, state: 'running' },
      { id, state: 'exited', exit: { status: 0, reason: 'debug-exit' } },
    ]);
    expect(host.killed).toBe(true);
    expect(vms.running).toEqual(['vm-2']);
    host.emit('exit', 0); // the kill's own exit is not a second final state
    expect(states.filter((s) => s.id === id)).toHaveLength(3);
  });

  it('reports a host error or crash as failed', () => {
    const { vms, hosts, states } = setup();
    const a = vms.start(config);
    const b = vms.start(config);
    hosts[0]!.emit('message', { type: 'error', name: 'KvmError', message: 'cannot open /dev/kvm: load the kvm module' });
    hosts[1]!.emit('exit', 139);
    expect(states.at(-2)).toEqual({ id: a, state: 'failed', error: 'cannot open /dev/kvm: load the kvm module' });
    expect(states.at(-1)).toMatchObject({ id: b, state: 'failed', error: expect.stringContaining('exit code 139') });
  });

  it('fails a VM whose host sends an invalid message', () => {
    const { vms, hosts, states } = setup();
    const id = vms.start(config);
    hosts[0]!.emit('message', { type: 'console', data: 'not bytes' });
    expect(states.at(-1)).toMatchObject({ id, state: 'failed', error: expect.stringContaining('invalid message') });
    expect(hosts[0]!.killed).toBe(true);
  });

  it('stops cleanly, or kills after the timeout', () => {
    const { vms, hosts, states } = setup();
    const a = vms.start(config);
    const b = vms.start(config);
    vms.stop(a);
    vms.stop(a); // idempotent while stopping
    expect(hosts[0]!.sent.filter((m) => m.type === 'stop')).toHaveLength(1);
    expect(states.at(-1)).toEqual({ id: a, state: 'stopping' });
    hosts[0]!.emit('message', { type: 'state', state: 'stopped' }); // no flicker back
    expect(states.at(-1)).toEqual({ id: a, state: 'stopping' });
    hosts[0]!.emit('message', { type: 'exit', status: 0, reason: 'stopped' });
    expect(states.at(-1)).toMatchObject({ id: a, state: 'exited' });

    vms.stop(b);
    vi.advanceTimersByTime(1000);
    expect(hosts[1]!.killed).toBe(true);
    expect(states.at(-1)).toMatchObject({ id: b, state: 'failed', error: expect.stringContaining('did not stop within 1 s') });
  });

  it('refuses to stop an unknown VM and kills all on quit', () => {
    const { vms, hosts } = setup();
    expect(() => vms.stop('vm-9')).toThrow(VmNotFoundError);
    vms.start(config);
    vms.start(config);
    vms.killAll();
    expect(hosts.every((h) => h.killed)).toBe(true);
    expect(vms.running).toEqual([]);
  });
});
