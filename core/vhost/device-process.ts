// Starts and supervises one vhost-user device process: spawns it, connects a frontend to
// its socket (failing fast, with the process's own stderr, if it exits first), reports
// its exit, and can stop or restart it. Guest memory and eventfds are not passed here:
// they travel over the vhost-user socket once the frontend is connected.
import { spawn, type ChildProcess } from 'node:child_process';
import { VmmError } from '../errors.js';
import { VhostUserFrontend, type FrontendOptions } from './frontend.js';

export class DeviceProcessError extends VmmError {}

export interface DeviceProcessOptions extends FrontendOptions {
  command: string;
  args: string[];
  /** Environment of the process (default: the VMM's). */
  env?: NodeJS.ProcessEnv;
  socketPath: string;
  /** ms between SIGTERM and SIGKILL in stop() (default 2000). */
  stopTimeoutMs?: number;
}

export interface DeviceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the process wrote to stderr. */
  stderr: string;
}

export class DeviceProcess {
  private child: ChildProcess | undefined;
  private stderr = '';
  private exitListeners: ((e: DeviceExit) => void)[] = [];

  constructor(readonly opts: DeviceProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Run `cb` every time the process exits (crash or stop). */
  onExit(cb: (e: DeviceExit) => void): void {
    this.exitListeners.push(cb);
  }

  /** Spawn the process and return a connected frontend (features not yet negotiated). */
  async start(): Promise<VhostUserFrontend> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) throw new DeviceProcessError(`${this.opts.command} is still running; stop() or restart() it`);
    this.stderr = '';
    const child = spawn(this.opts.command, this.opts.args, { stdio: ['ignore', 'ignore', 'pipe'], env: this.opts.env ?? process.env });
    this.child = child;
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr = (this.stderr + s).slice(-4096)));
    const exited = new Promise<DeviceExit>((resolve) => {
      child.on('exit', (code, signal) => {
        const e = { code, signal, stderr: this.stderr.trim() };
        for (const cb of this.exitListeners) cb(e);
        resolve(e);
      });
      child.on('error', (err) => resolve({ code: null, signal: null, stderr: err.message }));
    });
    const connect = VhostUserFrontend.connect(this.opts.socketPath, this.opts);
    const first = await Promise.race([connect.then((fe) => ({ fe })), exited.then((e) => ({ e }))]);
    if ('e' in first) {
      connect.then((fe) => fe.close(), () => undefined);
      const how = first.e.signal ? `was killed by ${first.e.signal}` : `exited with status ${first.e.code}`;
      throw new DeviceProcessError(`${this.opts.command} ${how} before accepting a connection${first.e.stderr ? `: ${first.e.stderr}` : ''}`);
    }
    return first.fe;
  }

  /** Stop the process if it still runs (a crashed one may not be reaped yet), then start it. */
  async restart(): Promise<VhostUserFrontend> {
    await this.stop();
    return this.start();
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs; resolves once the process is gone. */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), this.opts.stopTimeoutMs ?? 2000);
    await gone;
    clearTimeout(t);
  }
}
