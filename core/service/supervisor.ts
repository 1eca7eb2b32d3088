// Running VMs, one host process each. The supervisor owns the lifecycle the UI sees
// (starting, stopping, exited, failed); the host reports the machine's own states in
// between, its console output and a 10 Hz statistics stream, and answers requests for the
// live interrupt views. Forking is injected: Electron uses utilityProcess, browser mode and
// tests use child_process or a fake. Ended VMs stay listed with their last state until the
// same profile starts again.
import type { ConsoleEvent, StatsEvent, StatsSnapshot, VmId, VmInfo, VmStateEvent } from '../api/contract.js';
import type { MachineConfig } from '../machine/config.js';
import type { MachineStats } from '../stats/machine-stats.js';
import type { StatsMessage } from '../stats/stream.js';
import { ConsoleRing } from './console-ring.js';
import { HostRequestError, VmNotFoundError, VmStateError } from './errors.js';
import { HostMethods, HostToServiceSchema, type HostMethod, type HostResult, type ServiceToHost } from './host-protocol.js';
import { StatsTracker } from './stats-tracker.js';

export interface HostHandle {
  postMessage(message: ServiceToHost): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number | null) => void): unknown;
  kill(): boolean;
}
export type ForkHost = (vmName: string) => HostHandle;

export interface VmEvents {
  console(event: ConsoleEvent): void;
  state(event: VmStateEvent): void;
  stats(event: StatsEvent): void;
}

export interface SupervisorOptions {
  stopTimeoutMs?: number;
  requestTimeoutMs?: number;
  statsHz?: number;
  log?: (message: string) => void;
}

interface Pending {
  method: HostMethod;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Vm {
  info: VmInfo;
  /** Set while the host process lives. */
  host?: HostHandle;
  stopTimer?: ReturnType<typeof setTimeout>;
  stopping: boolean;
  ended: Promise<void>;
  markEnded(): void;
  console: ConsoleRing;
  stats: StatsTracker;
  pending: Map<number, Pending>;
}

const HOST_CRASHED =
  'start it again; if it keeps failing, run the profile in a terminal with `vmm run --profile FILE` to see the error';

export class VmSupervisor {
  private readonly vms = new Map<VmId, Vm>();
  private nextId = 1;
  private nextRequest = 1;
  /** Host messages that failed validation, by VM (a bug or a compromised host). */
  readonly badMessages = new Map<VmId, number>();
  private readonly stopTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly statsHz: number;
  private readonly log: (message: string) => void;

  constructor(
    private readonly fork: ForkHost,
    private readonly events: VmEvents,
    opts: SupervisorOptions = {},
  ) {
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 5000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.statsHz = opts.statsHz ?? 10;
    this.log = opts.log ?? ((m) => console.error(`irqbench: ${m}`));
  }

  start(config: MachineConfig): VmId {
    for (const [id, vm] of this.vms) if (!vm.host && vm.info.profile === config.name) this.vms.delete(id);
    const id = `vm-${this.nextId++}`;
    let markEnded!: () => void;
    const ended = new Promise<void>((r) => (markEnded = r));
    const vm: Vm = {
      info: { id, profile: config.name, platform: config.platform ?? 'kvm', state: 'starting', startedAt: Date.now() },
      stopping: false,
      ended,
      markEnded,
      console: new ConsoleRing(),
      stats: new StatsTracker(),
      pending: new Map(),
    };
    this.vms.set(id, vm);
    this.events.state({ id, state: 'starting' });
    let host: HostHandle;
    try {
      host = this.fork(config.name);
    } catch (e) {
      this.setState(vm, { id, state: 'failed', error: `cannot start the VM host process: ${(e as Error).message}` });
      vm.markEnded();
      return id;
    }
    vm.host = host;
    host.on('message', (raw) => this.onMessage(id, raw));
    host.on('exit', (code) =>
      this.finish(id, { id, state: 'failed', error: `the VM host process ended unexpectedly (exit code ${code ?? 'none'}); ${HOST_CRASHED}` }),
    );
    host.postMessage({ type: 'start', config, statsHz: this.statsHz });
    return id;
  }

  list(): VmInfo[] {
    return [...this.vms.values()].map((vm) => ({ ...vm.info }));
  }

  get running(): VmId[] {
    return [...this.vms].filter(([, vm]) => vm.host).map(([id]) => id);
  }

  /** Ask the VM to stop; resolves once it has ended (killed after the stop timeout). */
  stop(id: VmId): Promise<void> {
    const vm = this.live(id);
    if (!vm.stopping) {
      vm.stopping = true;
      this.setState(vm, { id, state: 'stopping' });
      vm.host!.postMessage({ type: 'stop' });
      // A guest stuck in a vCPU ioctl may never see the abort; the process is the backstop.
      vm.stopTimer = setTimeout(
        () => this.finish(id, { id, state: 'failed', error: `the VM did not stop within ${this.stopTimeoutMs / 1000} s and was killed` }),
        this.stopTimeoutMs,
      );
    }
    return vm.ended;
  }

  /** Stop every running VM and wait for all of them (each bounded by the stop timeout). */
  async stopAll(): Promise<void> {
    await Promise.all(this.running.map((id) => this.stop(id)));
  }

  /** Last resort on exit: end every host without waiting. */
  killAll(): void {
    for (const id of this.running) this.finish(id, { id, state: 'exited', exit: { status: -1, reason: 'app quit' } });
  }

  sendConsole(id: VmId, data: Uint8Array): void {
    this.live(id).host!.postMessage({ type: 'console-in', data });
  }

  consoleBacklog(id: VmId): Uint8Array {
    return this.get(id).console.contents();
  }

  /** A fresh sample while the VM runs; the last one the stream delivered once it has ended. */
  async statsSnapshot(id: VmId): Promise<StatsSnapshot> {
    const vm = this.get(id);
    if (vm.host && !vm.stopping) {
      const stats = await this.call(id, 'stats', []);
      vm.stats.applySample(stats as unknown as MachineStats);
    }
    const snap = vm.stats.snapshot();
    if (!snap) throw new VmStateError(`VM ${id} has no statistics yet; wait until it is running`);
    return snap;
  }

  /** One request to the machine in the VM's host, answered within the request timeout. */
  call<M extends HostMethod>(id: VmId, method: M, args: unknown[]): Promise<HostResult<M>> {
    const vm = this.live(id);
    if (vm.stopping) return Promise.reject(new VmStateError(`VM ${id} is stopping`));
    const reqId = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        vm.pending.delete(reqId);
        reject(new HostRequestError(`VM ${id} did not answer ${method} within ${this.requestTimeoutMs / 1000} s; it may be overloaded or hung`));
      }, this.requestTimeoutMs);
      vm.pending.set(reqId, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      vm.host!.postMessage({ type: 'call', id: reqId, method, args });
    });
  }

  private get(id: VmId): Vm {
    const vm = this.vms.get(id);
    if (!vm) throw new VmNotFoundError(`there is no VM ${id}; it may have been removed when its profile started again`);
    return vm;
  }

  private live(id: VmId): Vm {
    const vm = this.get(id);
    if (!vm.host) throw new VmStateError(`VM ${id} is not running (${vm.info.state}); start its profile again`);
    return vm;
  }

  private setState(vm: Vm, event: VmStateEvent): void {
    vm.info.state = event.state;
    if (event.exit) vm.info.exit = event.exit;
    if (event.error) vm.info.error = event.error;
    this.events.state(event);
  }

  private onMessage(id: VmId, raw: unknown): void {
    const vm = this.vms.get(id);
    if (!vm?.host) return;
    const parsed = HostToServiceSchema.safeParse(raw);
    if (!parsed.success) {
      this.badMessages.set(id, (this.badMessages.get(id) ?? 0) + 1);
      this.log(`VM ${id}: invalid message from its host: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      this.finish(id, { id, state: 'failed', error: 'the VM host sent an invalid message (a bug); the VM was stopped' });
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'console':
        vm.console.push(msg.data);
        this.events.console({ id, data: msg.data });
        break;
      case 'state':
        if (!vm.stopping) this.setState(vm, { id, state: msg.state });
        break;
      case 'stats':
        vm.stats.apply(msg.msg as StatsMessage);
        this.events.stats({ id, msg: msg.msg as StatsMessage });
        break;
      case 'reply':
        this.onReply(id, vm, msg);
        break;
      case 'exit':
        this.finish(id, { id, state: 'exited', exit: { status: msg.status, reason: msg.reason } });
        break;
      case 'error':
        this.finish(id, { id, state: 'failed', error: msg.message });
        break;
    }
  }

  private onReply(id: VmId, vm: Vm, msg: Extract<ReturnType<typeof HostToServiceSchema.parse>, { type: 'reply' }>): void {
    const p = vm.pending.get(msg.id);
    if (!p) return; // timed out already
    vm.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (!msg.ok) {
      p.reject(new HostRequestError(msg.error?.message ?? `${p.method} failed in VM ${id}`));
      return;
    }
    const checked = HostMethods[p.method].result.safeParse(msg.value);
    if (checked.success) p.resolve(checked.data);
    else {
      this.badMessages.set(id, (this.badMessages.get(id) ?? 0) + 1);
      const where = checked.error.issues[0]?.path.join('.') || 'reply';
      p.reject(new HostRequestError(`VM ${id} answered ${p.method} with malformed data (${where}); this is a bug in irqbench`));
    }
  }

  /** Report the final state once, fail pending requests and end the host process. */
  private finish(id: VmId, final: VmStateEvent): void {
    const vm = this.vms.get(id);
    if (!vm?.host) return;
    const host = vm.host;
    vm.host = undefined;
    clearTimeout(vm.stopTimer);
    for (const p of vm.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new VmStateError(`VM ${id} ended before answering ${p.method}`));
    }
    vm.pending.clear();
    host.kill();
    this.setState(vm, final);
    vm.markEnded();
  }
}
