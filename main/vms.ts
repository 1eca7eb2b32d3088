// Running VMs, one host process each. Main owns the lifecycle seen by the UI (starting,
// stopping, exited, failed); the host reports the machine's own states in between. Forking
// is injected, so this runs under Node in tests and with utilityProcess in Electron.
import type { ConsoleEvent, VmId, VmStateEvent } from '../core/api/contract.js';
import { VmmError } from '../core/errors.js';
import type { MachineConfig } from '../core/machine/config.js';
import { HostToMainSchema, type MainToHost } from './host-protocol.js';

export interface HostHandle {
  postMessage(message: MainToHost): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  kill(): boolean;
}
export type ForkHost = (vmName: string) => HostHandle;

export interface VmEvents {
  console(event: ConsoleEvent): void;
  state(event: VmStateEvent): void;
}

export class VmNotFoundError extends VmmError {}

interface Vm {
  host: HostHandle;
  stopTimer?: ReturnType<typeof setTimeout>;
}

export class VmManager {
  private readonly vms = new Map<VmId, Vm>();
  private nextId = 1;

  constructor(
    private readonly fork: ForkHost,
    private readonly events: VmEvents,
    private readonly stopTimeoutMs = 5000,
  ) {}

  start(config: MachineConfig): VmId {
    const id = `vm-${this.nextId++}`;
    const host = this.fork(config.name);
    this.vms.set(id, { host });
    this.events.state({ id, state: 'starting' });
    host.on('message', (raw) => this.onMessage(id, raw));
    host.on('exit', (code) =>
      this.finish(id, { id, state: 'failed', error: `the VM host process ended unexpectedly (exit code ${code}); see the app log` }),
    );
    host.postMessage({ type: 'start', config });
    return id;
  }

  stop(id: VmId): void {
    const vm = this.vms.get(id);
    if (!vm) throw new VmNotFoundError(`VM ${id} is not running; it may have stopped already`);
    if (vm.stopTimer) return;
    this.events.state({ id, state: 'stopping' });
    vm.host.postMessage({ type: 'stop' });
    // A guest stuck in a vCPU ioctl may never see the abort; the process is the backstop.
    vm.stopTimer = setTimeout(
      () => this.finish(id, { id, state: 'failed', error: `the VM did not stop within ${this.stopTimeoutMs / 1000} s and was killed` }),
      this.stopTimeoutMs,
    );
  }

  /** On quit: no time for a clean stop, just end every host. */
  killAll(): void {
    for (const id of [...this.vms.keys()]) this.finish(id, { id, state: 'exited', exit: { status: -1, reason: 'app quit' } });
  }

  get running(): VmId[] {
    return [...this.vms.keys()];
  }

  private onMessage(id: VmId, raw: unknown): void {
    const parsed = HostToMainSchema.safeParse(raw);
    if (!parsed.success) {
      this.finish(id, { id, state: 'failed', error: 'the VM host sent an invalid message (a bug); the VM was stopped' });
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'console':
        this.events.console({ id, data: msg.data });
        break;
      case 'state':
        if (this.vms.get(id)?.stopTimer === undefined) this.events.state({ id, state: msg.state });
        break;
      case 'exit':
        this.finish(id, { id, state: 'exited', exit: { status: msg.status, reason: msg.reason } });
        break;
      case 'error':
        this.finish(id, { id, state: 'failed', error: msg.message });
        break;
    }
  }

  /** Report the final state once and end the host process. */
  private finish(id: VmId, final: VmStateEvent): void {
    const vm = this.vms.get(id);
    if (!vm) return;
    this.vms.delete(id);
    clearTimeout(vm.stopTimer);
    vm.host.kill();
    this.events.state(final);
  }
}
