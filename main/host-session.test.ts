import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_DEVICES, type MachineConfig } from '../core/machine/config.js';
import type { HostToMain } from './host-protocol.js';
import { serveHost, type MachineIo, type RunMachine } from './host-session.js';

const config: MachineConfig = {
  name: 'demo',
  cpus: 1,
  memoryMiB: 64,
  irqchip: 'kernel',
  boot: { kind: 'auto', kernel: '/k', cmdline: '' },
  devices: DEFAULT_DEVICES,
};

function setup(run: RunMachine) {
  let listener: ((e: { data: unknown }) => void) | undefined;
  const posted: HostToMain[] = [];
  serveHost({ on: (_e, l) => (listener = l), postMessage: (m) => posted.push(m) }, run);
  return { posted, send: (data: unknown) => listener!({ data }) };
}

function controllable() {
  let io!: MachineIo;
  let finish!: (r: { status: number; reason: string; detail?: string }) => void;
  let fail!: (e: unknown) => void;
  const run = vi.fn<RunMachine>(
    (_c, i) =>
      new Promise((res, rej) => {
        io = i;
        finish = res;
        fail = rej;
      }),
  );
  return { run, io: () => io, finish: (r: Parameters<typeof finish>[0]) => finish(r), fail: (e: unknown) => fail(e) };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('serveHost', () => {
  it('runs the machine once and batches console bytes', async () => {
    const m = controllable();
    const { posted, send } = setup(m.run);
    send({ type: 'start', config });
    send({ type: 'start', config });
    expect(m.run).toHaveBeenCalledTimes(1);
    expect(m.run.mock.calls[0]![0]).toBe(config);
    const buf = new Uint8Array([104, 105, 33]);
    m.io().onConsole(buf.subarray(0, 1));
    m.io().onConsole(buf.subarray(1));
    buf.fill(0); // the core may reuse its buffer
    expect(posted).toEqual([]); // the machine reports its own states; output waits a tick
    vi.advanceTimersByTime(20);
    expect(posted.at(-1)).toEqual({ type: 'console', data: new Uint8Array([104, 105, 33]) });
    m.io().onConsole(new Uint8Array(5000));
    expect(posted.at(-1)).toMatchObject({ type: 'console' });
    m.io().onConsole(new Uint8Array([1]));
    m.io().onState('paused'); // pending output goes first
    expect(posted.slice(-2)).toEqual([
      { type: 'console', data: new Uint8Array([1]) },
      { type: 'state', state: 'paused' },
    ]);
    m.finish({ status: 3, reason: 'debug-exit', detail: 'value 1' });
    await vi.runAllTimersAsync();
    expect(posted.at(-1)).toEqual({ type: 'exit', status: 3, reason: 'debug-exit: value 1' });
  });

  it('aborts on stop and reports errors', async () => {
    const m = controllable();
    const { posted, send } = setup(m.run);
    send({ type: 'start', config });
    expect(m.io().signal?.aborted).toBe(false);
    send({ type: 'stop' });
    expect(m.io().signal?.aborted).toBe(true);
    m.fail(Object.assign(new Error('x'.repeat(3000)), { name: 'KvmError' }));
    await vi.runAllTimersAsync();
    const last = posted.at(-1) as Extract<HostToMain, { type: 'error' }>;
    expect(last.name).toBe('KvmError');
    expect(last.message).toHaveLength(2000);
  });
});
