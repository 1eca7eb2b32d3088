import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_DEVICES, type MachineConfig } from '../machine/config.js';
import type { Machine } from '../machine/machine.js';
import { serveHost, type Controls, type MachineIo, type RunMachine } from './host-session.js';

const config: MachineConfig = {
  name: 'demo',
  cpus: 1,
  memoryMiB: 64,
  irqchip: 'kernel',
  boot: { kind: 'auto', kernel: '/k', cmdline: '' },
  devices: DEFAULT_DEVICES,
};

const STATS = { t: 1, irqchip: 'kernel', vcpus: [], devices: [], buses: { pio: { unassigned: 0 }, mmio: {} } };

function fakeControls() {
  let exits = 0;
  return {
    stats: vi.fn(() => ({ ...STATS, t: Date.now(), buses: { pio: { unassigned: exits++ }, mmio: {} } })),
    sendConsole: vi.fn(),
    pause: vi.fn(() => ({ state: 'paused' })),
    xenSend: vi.fn((port: number) => {
      throw Object.assign(new Error(`port ${port} is not bound`), { name: 'ControllerError' });
    }),
    msixTable: vi.fn(async (device: string, first: number, count: number) => ({ device, first, count })),
  };
}

function setup() {
  let listener!: (m: unknown) => void;
  const posted: any[] = [];
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
  const controls = fakeControls();
  const machine = { fake: true } as unknown as Machine;
  const make = vi.fn(() => controls as unknown as Controls);
  serveHost({ onMessage: (l) => (listener = l), post: (m) => posted.push(m) }, run, make);
  return {
    posted,
    run,
    controls,
    make,
    machine,
    send: (m: unknown) => listener(m),
    io: () => io,
    finish: (r: Parameters<typeof finish>[0]) => finish(r),
    fail: (e: unknown) => fail(e),
    replies: () => posted.filter((m) => m.type === 'reply'),
  };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('serveHost', () => {
  it('runs the machine once and batches console bytes', async () => {
    const h = setup();
    h.send({ type: 'start', config, statsHz: 10 });
    h.send({ type: 'start', config, statsHz: 10 });
    expect(h.run).toHaveBeenCalledTimes(1);
    expect(h.run.mock.calls[0]![0]).toEqual(config);
    const buf = new Uint8Array([104, 105, 33]);
    h.io().onConsole(buf.subarray(0, 1));
    h.io().onConsole(buf.subarray(1));
    buf.fill(0); // the core may reuse its buffer
    expect(h.posted).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(h.posted.at(-1)).toEqual({ type: 'console', data: new Uint8Array([104, 105, 33]) });
    h.io().onConsole(new Uint8Array([1]));
    h.io().onState('paused'); // pending output goes first
    expect(h.posted.slice(-2)).toEqual([
      { type: 'console', data: new Uint8Array([1]) },
      { type: 'state', state: 'paused' },
    ]);
    h.finish({ status: 3, reason: 'debug-exit', detail: 'value 1' });
    await vi.runAllTimersAsync();
    expect(h.posted.at(-1)).toEqual({ type: 'exit', status: 3, reason: 'debug-exit: value 1' });
  });

  it('answers requests through the controller, with errors and bad arguments as error replies', async () => {
    const h = setup();
    h.send({ type: 'call', id: 1, method: 'pause', args: [] });
    await vi.runAllTimersAsync();
    expect(h.replies().at(-1)).toMatchObject({ id: 1, ok: false, error: { name: 'VmStateError', message: expect.stringContaining('still starting') } });

    h.send({ type: 'start', config, statsHz: 10 });
    h.io().onMachine(h.machine);
    expect(h.make).toHaveBeenCalledWith(h.machine);
    h.send({ type: 'call', id: 2, method: 'pause', args: [] });
    h.send({ type: 'call', id: 3, method: 'msixTable', args: ['irq-lab0', 4, 8] });
    h.send({ type: 'call', id: 4, method: 'xenSend', args: [7] });
    h.send({ type: 'call', id: 5, method: 'msixTable', args: ['irq-lab0', -1, 8] });
    h.send({ type: 'call', id: 6, method: 'eval', args: ['process.exit()'] });
    await vi.advanceTimersByTimeAsync(1);
    // Replies may overtake each other (each waits for its own method); ids pair them up.
    expect(h.replies().sort((a, b) => a.id - b.id)).toEqual([
      expect.objectContaining({ id: 1 }),
      { type: 'reply', id: 2, ok: true, value: { state: 'paused' } },
      { type: 'reply', id: 3, ok: true, value: { device: 'irq-lab0', first: 4, count: 8 } },
      { type: 'reply', id: 4, ok: false, error: { name: 'ControllerError', message: 'port 7 is not bound' } },
      { type: 'reply', id: 5, ok: false, error: { name: 'BadRequestError', message: 'bad arguments for msixTable' } },
    ]);
    expect(h.controls.pause).toHaveBeenCalledTimes(1);
  });

  it('streams statistics once the machine runs and stops at exit', async () => {
    const h = setup();
    h.send({ type: 'start', config, statsHz: 10 });
    h.io().onMachine(h.machine);
    await vi.advanceTimersByTimeAsync(500);
    expect(h.posted.filter((m) => m.type === 'stats')).toHaveLength(0);
    h.io().onState('running');
    await vi.advanceTimersByTimeAsync(250);
    const stats = h.posted.filter((m) => m.type === 'stats').map((m) => m.msg);
    expect(stats.map((m) => m.kind)).toEqual(['snapshot', 'delta', 'delta']);
    expect(stats[1].changes['bus.pio.unassigned']).toMatchObject({ value: 1 });
    h.finish({ status: 0, reason: 'done' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.posted.filter((m) => m.type === 'stats')).toHaveLength(3);
    h.send({ type: 'call', id: 9, method: 'pause', args: [] });
    await vi.advanceTimersByTimeAsync(1);
    expect(h.replies().at(-1)).toMatchObject({ id: 9, ok: false, error: { message: 'the VM has ended' } });
  });

  it('passes console input to the machine and ignores invalid messages', () => {
    const h = setup();
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    h.send({ type: 'start', config, statsHz: 10 });
    h.io().onMachine(h.machine);
    h.send({ type: 'console-in', data: new Uint8Array([65]) });
    expect(h.controls.sendConsole).toHaveBeenCalledWith(new Uint8Array([65]));
    h.send({ type: 'console-in', data: 'A' });
    h.send('garbage');
    expect(h.controls.sendConsole).toHaveBeenCalledTimes(1);
    expect(err).toHaveBeenCalledTimes(2);
    err.mockRestore();
  });

  it('aborts on stop and reports errors, clipped', async () => {
    const h = setup();
    h.send({ type: 'start', config, statsHz: 10 });
    expect(h.io().signal?.aborted).toBe(false);
    h.send({ type: 'stop' });
    expect(h.io().signal?.aborted).toBe(true);
    h.fail(Object.assign(new Error('x'.repeat(3000)), { name: 'KvmError' }));
    await vi.runAllTimersAsync();
    const last = h.posted.at(-1);
    expect(last.name).toBe('KvmError');
    expect(last.message).toHaveLength(2000);
  });
});
