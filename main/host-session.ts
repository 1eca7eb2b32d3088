// The VM host's side of the protocol, independent of Electron so it can be tested: it
// waits for 'start', runs the machine, batches serial output (guests write byte by byte,
// one IPC message per byte would swamp main) and reports exit or error.
import type { MachineConfig } from '../core/machine/config.js';
import type { HostToMain, MainToHost } from './host-protocol.js';

export interface MachineIo {
  onConsole(data: Uint8Array): void;
  onState(state: string): void;
  onLog(line: string): void;
  signal?: AbortSignal;
}
/** The shape of core/machine/run.ts's runMachine, injected so tests can fake the machine. */
export type RunMachine = (
  config: MachineConfig,
  io: MachineIo,
) => Promise<{ status: number; reason: string; detail?: string }>;

export interface PortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: HostToMain): void;
}

const FLUSH_BYTES = 4096;
const FLUSH_MS = 16;

export function serveHost(port: PortLike, run: RunMachine): void {
  let started = false;
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
    port.postMessage({ type: 'console', data });
  };

  const onConsole = (data: Uint8Array) => {
    // Copy: the core may hand us a view into guest memory or a reused buffer.
    pending.push(data.slice());
    pendingBytes += data.length;
    if (pendingBytes >= FLUSH_BYTES) flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  };

  const start = (config: MachineConfig) => {
    started = true;
    const io: MachineIo = {
      onConsole,
      onState: (state) => {
        flush();
        port.postMessage({ type: 'state', state });
      },
      // VMM diagnostics go to the host's stderr, which Electron passes to the app's log.
      onLog: (line) => console.error(`[vm ${config.name}] ${line}`),
      signal: abort.signal,
    };
    run(config, io).then(
      ({ status, reason, detail }) => {
        flush();
        port.postMessage({ type: 'exit', status, reason: clip(detail ? `${reason}: ${detail}` : reason, 1000) });
      },
      (e: unknown) => {
        flush();
        const err = e instanceof Error ? e : new Error(String(e));
        port.postMessage({ type: 'error', name: clip(err.name, 100), message: clip(err.message, 2000) });
      },
    );
  };

  port.on('message', ({ data }) => {
    const msg = data as MainToHost;
    if (msg?.type === 'start' && !started) start(msg.config);
    else if (msg?.type === 'stop') abort.abort();
  });
}

/** Main rejects oversized fields (host-protocol.ts); keep the start of long texts instead. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
