// The VM host's side of the service protocol, independent of how the process was started
// (Electron utility process or Node child process) so it can be tested: it waits for
// 'start', runs the machine, batches serial output (guests write byte by byte; one message
// per byte would swamp the service), streams statistics at the requested rate, answers
// requests through the MachineController, and reports exit or error.
import type { MachineConfig } from '../machine/config.js';
import type { Machine } from '../machine/machine.js';
import type { MachineController } from '../control/commands.js';
import { StatsStream } from '../stats/stream.js';
import { HostMethods, ServiceToHostSchema, type HostMethod } from './host-protocol.js';

export interface MachineIo {
  onConsole(data: Uint8Array): void;
  onState(state: string): void;
  onLog(line: string): void;
  onMachine(machine: Machine): void;
  signal?: AbortSignal;
}
/** The shape of core/machine/run.ts's runMachine, injected so tests can fake the machine. */
export type RunMachine = (config: MachineConfig, io: MachineIo) => Promise<{ status: number; reason: string; detail?: string }>;

/** What the host needs of a MachineController: the request methods and console input. */
export type Controls = Pick<MachineController, HostMethod | 'sendConsole'>;
export type MakeControls = (machine: Machine) => Controls;

/** The host's end of the channel to the service, whatever the process kind. */
export interface HostPort {
  onMessage(listener: (message: unknown) => void): void;
  post(message: unknown): void;
}

const FLUSH_BYTES = 4096;
const FLUSH_MS = 16;

export function serveHost(port: HostPort, run: RunMachine, makeControls: MakeControls): void {
  let started = false;
  let ended = false;
  let controls: Controls | undefined;
  let stats: StatsStream | undefined;
  let statsHz = 10;
  const abort = new AbortController();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pendingBytes === 0) return;
    const data = new Uint8Array(pendingBytes);
    let at = 0;
    for (const chunk of pending) {
      data.set(chunk, at);
      at += chunk.length;
    }
    pending = [];
    pendingBytes = 0;
    port.post({ type: 'console', data });
  };

  const onConsole = (data: Uint8Array) => {
    // Copy: the core may hand us a view into guest memory or a reused buffer.
    pending.push(data.slice());
    pendingBytes += data.length;
    if (pendingBytes >= FLUSH_BYTES) flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  };

  const startStats = () => {
    if (stats || !controls || ended) return;
    const c = controls;
    stats = new StatsStream(() => c.stats(), (msg) => port.post({ type: 'stats', msg }), statsHz);
    stats.start();
  };

  const end = (message: object) => {
    ended = true;
    stats?.stop();
    flush();
    port.post(message);
  };

  const start = (config: MachineConfig) => {
    started = true;
    const io: MachineIo = {
      onConsole,
      onState: (state) => {
        flush();
        port.post({ type: 'state', state });
        if (state === 'running') startStats();
      },
      onMachine: (machine) => (controls = makeControls(machine)),
      // VMM diagnostics go to the host's stderr, which ends up in the app's log.
      onLog: (line) => console.error(`[vm ${config.name}] ${line}`),
      signal: abort.signal,
    };
    run(config, io).then(
      ({ status, reason, detail }) => end({ type: 'exit', status, reason: clip(detail ? `${reason}: ${detail}` : reason, 1000) }),
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        end({ type: 'error', name: clip(err.name, 100), message: clip(err.message, 2000) });
      },
    );
  };

  const reply = (id: number, result: { ok: true; value: unknown } | { ok: false; name: string; message: string }) =>
    port.post(
      result.ok
        ? { type: 'reply', id, ok: true, value: result.value }
        : { type: 'reply', id, ok: false, error: { name: clip(result.name, 100), message: clip(result.message, 2000) } },
    );

  const call = async (id: number, method: HostMethod, rawArgs: unknown[]) => {
    if (!controls || ended) {
      const why = ended ? 'the VM has ended' : 'the VM is still starting; try again in a moment';
      return reply(id, { ok: false, name: 'VmStateError', message: why });
    }
    const args = HostMethods[method].args.safeParse(rawArgs);
    if (!args.success) return reply(id, { ok: false, name: 'BadRequestError', message: `bad arguments for ${method}` });
    try {
      const fn = controls[method] as (...a: unknown[]) => unknown;
      const value = await fn.apply(controls, args.data as unknown[]);
      reply(id, { ok: true, value });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      reply(id, { ok: false, name: err.name, message: err.message });
    }
  };

  port.onMessage((raw) => {
    const parsed = ServiceToHostSchema.safeParse(raw);
    if (!parsed.success) {
      console.error('vm-host: ignored an invalid message from the service');
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'start':
        if (started) return;
        statsHz = msg.statsHz;
        return start(msg.config as unknown as MachineConfig);
      case 'stop':
        abort.abort();
        return;
      case 'console-in':
        try {
          if (controls && !ended) controls.sendConsole(msg.data);
        } catch (e) {
          console.error(`vm-host: console input dropped: ${(e as Error).message}`);
        }
        return;
      case 'call':
        void call(msg.id, msg.method, msg.args);
        return;
    }
  });
}

/** The service rejects oversized fields (host-protocol.ts); keep the start of long texts instead. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
