// VMM side of the connection to one irq-lab device process: spawns it with one end of an
// AF_UNIX socketpair as its fd 3, sends the setup (eventfds and guest memory with
// SCM_RIGHTS), waits for READY_ACK, then carries commands and stats queries. Setup is
// paced with stats round trips (BARRIER_EVERY messages) so a 2048-vector table's 256
// fd-carrying messages never overrun the socket buffer. Flow control: the link counts the
// commands and raises it sent; the process's CREDIT replies say how many it finished, so
// inFlight / raisesInFlight are what the socket and the process hold now (CommandFlow,
// flow.ts, keeps them bounded and is flushed through onCredit). A credit for more than was
// sent is a protocol error; commands in flight with no credit for CREDIT_STALL_MS mean a
// stalled process. Anything malformed from the process, its exit, a stall or a send failure
// ends the link once through onDown; the owner marks the device failed.
// Threading: VM host thread only.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VmmError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { VhostChannel, VhostDisconnectError, safeClose, type VhostMessage } from '../vhost/channel.js';
import { nativeUnix } from '../vhost/native.js';
import { HISTOGRAM_BUCKETS } from './latency.js';
import {
  IrqLabProtocolError, Reply, decodeCredit, decodeReadyAck, decodeStats, decodeVectorCounts, encodeCommand, raisesOf, type Command,
  type DeviceStatsReply,
} from './protocol.js';

export class IrqLabProcessError extends VmmError {}

/** fd number the child finds its end of the socketpair at. */
export const CHILD_SOCKET_FD = 3;
const BARRIER_EVERY = 64;
const READY_TIMEOUT_MS = 20_000;
const QUERY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 2_000;
const STDERR_KEEP = 4096;
const EXIT_GRACE_MS = 500;
/** Commands in flight and no CREDIT for this long: the process is stalled. */
export const CREDIT_STALL_MS = 30_000;
const U32 = 2 ** 32;

export interface DeviceStatsResult extends DeviceStatsReply {
  /** Raises per vector, as the device process counted them. */
  perVector: number[];
}

/** How to run the device process: compiled JS normally, the TypeScript source under tsx. */
export function irqLabCommand(): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`../../devices/irq-lab.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const env = { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}) };
  return { command: process.execPath, args: fromSource ? ['--import', 'tsx', entry] : [entry], env };
}

interface Query {
  resolve(r: DeviceStatsResult): void;
  reject(e: Error): void;
  summary?: DeviceStatsReply;
  perVector: number[];
  got: number;
  timer: NodeJS.Timeout;
}

export class DeviceLink {
  private readonly n = nativeUnix();
  private channel: VhostChannel | undefined;
  private child: ChildProcess | undefined;
  private stderr = '';
  private down = false;
  private nextToken = 1;
  private readonly queries = new Map<number, Query>();
  private readyWaiter: { resolve(): void; reject(e: Error): void } | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Sent and credited, commands and raises (credits arrive mod 2^32; these are exact). */
  private readonly sent = { commands: 0, raises: 0 };
  private readonly credited = { commands: 0, raises: 0 };
  private lastCredit = { commands: 0, raises: 0 };
  private progressAt = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Called after every CREDIT (the owner flushes what waits). */
  onCredit: () => void = () => {};

  private constructor(
    readonly name: string,
    private readonly onDown: (reason: string) => void,
  ) {}

  /** Spawn the process, send `setup` (then READY) and resolve once it answered READY_ACK. */
  static async start(name: string, setup: Command[], onDown: (reason: string) => void): Promise<DeviceLink> {
    const link = new DeviceLink(name, onDown);
    await link.spawn(setup);
    return link;
  }

  /** Commands sent that the process has not finished yet. */
  get inFlight(): number {
    return this.sent.commands - this.credited.commands;
  }
  /** Raises sent that the process has not performed yet. */
  get raisesInFlight(): number {
    return this.sent.raises - this.credited.raises;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get isUp(): boolean {
    return !this.down;
  }

  /** Send one command; false (and nothing sent) once the link is down. */
  send(c: Command): boolean {
    if (this.down || !this.channel) return false;
    const e = encodeCommand(c);
    try {
      this.channel.send(e.request, 0, e.payload, e.fds);
      if (this.sent.commands === this.credited.commands) this.progressAt = Date.now(); // idle until now
      this.sent.commands++;
      this.sent.raises += raisesOf(c);
      this.armStallTimer();
      return true;
    } catch {
      return false; // the channel closed itself and reported through onClose
    }
  }

  /** Ask the process for its counters and latency histogram. */
  queryStats(): Promise<DeviceStatsResult> {
    if (this.down) return Promise.reject(new IrqLabProcessError(`${this.name}: the device process is not running`));
    const token = this.nextToken++ >>> 0 || 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`no answer to a stats query within ${QUERY_TIMEOUT_MS} ms`), QUERY_TIMEOUT_MS);
      this.queries.set(token, { resolve, reject, perVector: [], got: 0, timer });
      if (!this.send({ op: 'get-stats', token })) {
        clearTimeout(timer);
        this.queries.delete(token);
        reject(new IrqLabProcessError(`${this.name}: the device process is not running`));
      }
    });
  }

  /** Close the connection, SIGTERM the process (SIGKILL after a grace period) and wait for it. */
  async stop(): Promise<void> {
    this.markDown(undefined);
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(t);
    }
  }

  /** Kill the process without ceremony (tests: simulate a crash). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  private async spawn(setup: Command[]): Promise<void> {
    const [mine, theirs] = this.n.unixSocketPair();
    const { command, args, env } = irqLabCommand();
    let child: ChildProcess;
    try {
      child = spawn(command, [...args, '--fd', String(CHILD_SOCKET_FD)], {
        stdio: ['ignore', 'ignore', 'pipe', theirs], cwd: packageRoot(), env,
      });
    } finally {
      safeClose(this.n, theirs);
    }
    this.child = child;
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr = (this.stderr + s).slice(-STDERR_KEEP)));
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        this.markDown(`the device process ${how}${this.stderrTail()}`);
        resolve();
      });
      child.once('error', (err) => {
        this.markDown(`cannot run the device process: ${err.message}`);
        resolve();
      });
    });
    this.channel = new VhostChannel(mine, { onMessage: (m) => this.message(m), onClose: (r) => this.closed(r) }, this.name);
    const ready = new Promise<void>((resolve, reject) => (this.readyWaiter = { resolve, reject }));
    const timer = setTimeout(() => this.fail(`no READY_ACK within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    try {
      for (let i = 0; i < setup.length; i++) {
        if (!this.send(setup[i]!)) break;
        if ((i + 1) % BARRIER_EVERY === 0) await this.queryStats();
      }
      this.send({ op: 'ready' });
      await ready;
    } catch (e) {
      await this.stop();
      throw new IrqLabProcessError(`${this.name}: device process did not start: ${(e as Error).message}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  private message(m: VhostMessage): void {
    for (const fd of m.fds) safeClose(this.n, fd); // the device never sends fds
    if (m.fds.length > 0) throw new IrqLabProtocolError(`device sent ${m.fds.length} fds`);
    switch (m.request) {
      case Reply.READY_ACK:
        decodeReadyAck(m.payload);
        this.readyWaiter?.resolve();
        this.readyWaiter = undefined;
        return;
      case Reply.STATS: {
        const s = decodeStats(m.payload, HISTOGRAM_BUCKETS);
        const q = this.queries.get(s.token);
        if (!q || q.summary) throw new IrqLabProtocolError(`STATS for unknown query ${s.token}`);
        q.summary = s;
        q.perVector = new Array<number>(s.vectors).fill(0);
        return this.maybeDone(s.token, q);
      }
      case Reply.VECTOR_COUNTS: {
        const q0 = this.queries.get(new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).getUint32(0, true));
        if (!q0?.summary) throw new IrqLabProtocolError('VECTOR_COUNTS without a STATS reply');
        const r = decodeVectorCounts(m.payload, q0.summary.vectors);
        r.counts.forEach((c, i) => (q0.perVector[r.first + i] = c));
        q0.got += r.counts.length;
        return this.maybeDone(r.token, q0);
      }
      case Reply.CREDIT:
        return this.credit(decodeCredit(m.payload));
      default:
        throw new IrqLabProtocolError(`unknown message ${m.request} from the device`);
    }
  }

  /** CREDIT: totals mod 2^32; the increase may not exceed what is in flight. */
  private credit(c: { commands: number; raises: number }): void {
    const dc = (c.commands - this.lastCredit.commands + U32) % U32;
    const dr = (c.raises - this.lastCredit.raises + U32) % U32;
    if (dc > this.inFlight || dr > this.raisesInFlight) {
      throw new IrqLabProtocolError(`CREDIT for ${dc} commands / ${dr} raises with ${this.inFlight} / ${this.raisesInFlight} in flight`);
    }
    this.lastCredit = c;
    this.credited.commands += dc;
    this.credited.raises += dr;
    if (dc > 0 || dr > 0) this.progressAt = Date.now();
    this.onCredit();
  }

  /** One timer while anything is in flight; it fails the link after CREDIT_STALL_MS without progress. */
  private armStallTimer(): void {
    if (this.stallTimer || this.down) return;
    const check = (): void => {
      this.stallTimer = undefined;
      if (this.down || this.inFlight === 0) return;
      const idle = Date.now() - this.progressAt;
      if (idle >= CREDIT_STALL_MS) return this.fail(`no CREDIT for ${CREDIT_STALL_MS} ms with ${this.inFlight} commands in flight`);
      this.stallTimer = setTimeout(check, CREDIT_STALL_MS - idle);
      this.stallTimer.unref();
    };
    this.stallTimer = setTimeout(check, CREDIT_STALL_MS);
    this.stallTimer.unref();
  }

  /** The socket closed under us: a dying process closes it first, so give its exit status a moment to arrive. */
  private closed(reason: Error | undefined): void {
    if (!reason || this.down) return;
    if (!(reason instanceof VhostDisconnectError)) return this.fail(reason.message);
    setTimeout(() => this.fail(reason.message), EXIT_GRACE_MS).unref();
  }

  private maybeDone(token: number, q: Query): void {
    if (!q.summary || q.got < q.summary.vectors) return;
    clearTimeout(q.timer);
    this.queries.delete(token);
    q.resolve({ ...q.summary, perVector: q.perVector });
  }

  /** Something went wrong on the link: close it and kill the process. */
  private fail(reason: string): void {
    if (this.down) return;
    this.markDown(reason);
    this.child?.kill('SIGKILL');
  }

  private markDown(reason: string | undefined): void {
    if (this.down) return;
    this.down = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    const err = new IrqLabProcessError(`${this.name}: ${reason ?? 'stopped'}`);
    this.channel?.close();
    this.readyWaiter?.reject(err);
    this.readyWaiter = undefined;
    for (const q of this.queries.values()) {
      clearTimeout(q.timer);
      q.reject(err);
    }
    this.queries.clear();
    if (reason !== undefined) this.onDown(reason);
  }

  private stderrTail(): string {
    const t = this.stderr.trim();
    return t ? `: ${t.split('\n').slice(-3).join(' | ')}` : '';
  }
}
