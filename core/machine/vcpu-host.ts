// Host-thread side of one vCPU: starts its worker, answers the exits the worker forwards
// (port I/O and MMIO through the buses, IOAPIC EOIs) and drives its state machine
// (created -> running <-> paused -> stopped | crashed) with control words plus kicks.
import { Worker } from 'node:worker_threads';
import { nativeKvm } from '../kvm/addon.js';
import type { IoBus } from '../bus/io-bus.js';
import {
  ControlRequest, createChannel, ExitKind, REQ_ANSWERED, REQ_POSTED, VCPU_STATES, W,
  type VcpuChannel, type VcpuState, type WorkerInit, type WorkerMessage,
} from './vcpu-channel.js';

export interface VcpuHostDeps {
  pio: IoBus;
  mmio: IoBus;
  onEoi(vector: number): void;
  /** Guest RAM and the Xen part of WorkerInit. */
  workerInit(): Pick<WorkerInit, 'ram' | 'xen'>;
  /** ExitKind.Hypercall (xen-hvm only): run the forwarded call in `data`, return its result. */
  hypercall?(data: Uint8Array): number;
  onMessage(vcpuId: number, msg: WorkerMessage): void;
}

/** The worker entry: compiled JS normally; from TypeScript sources (tests) through tsx. */
function spawnWorker(init: WorkerInit, name: string): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./vcpu-worker.js', import.meta.url), { workerData: init, name });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./vcpu-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: init, name });
}

export class VcpuHost {
  private readonly channel: VcpuChannel;
  private readonly buffer: SharedArrayBuffer;
  private worker?: Worker;
  private serving = false;
  private exited?: Promise<void>;
  state: VcpuState = 'created';

  constructor(
    readonly id: number,
    private readonly fd: number,
    private readonly mmapSize: number,
    private readonly deps: VcpuHostDeps,
  ) {
    ({ buffer: this.buffer, channel: this.channel } = createChannel());
  }

  /** Start the worker; resolves once it runs KVM_RUN. */
  start(): Promise<void> {
    const init: WorkerInit = {
      vcpuId: this.id,
      vcpuFd: this.fd,
      mmapSize: this.mmapSize,
      channel: this.buffer,
      localPorts: [{ base: 0x80, length: 1, kind: 'port80' }],
      ...this.deps.workerInit(),
    };
    const worker = spawnWorker(init, `vcpu${this.id}`);
    this.worker = worker;
    this.serving = true;
    void this.serve();
    return new Promise((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          resolve();
        } else if (m.type === 'state') {
          this.state = m.state;
        }
        this.deps.onMessage(this.id, m);
      });
      worker.once('error', (e) => {
        reject(e);
        this.state = 'crashed';
        this.deps.onMessage(this.id, { type: 'error', message: e.message });
      });
      this.exited = new Promise((done) => worker.once('exit', () => {
        this.serving = false;
        Atomics.notify(this.channel.words, W.REQ);
        const handle = Atomics.exchange(this.channel.words, W.RUN_HANDLE, 0) - 1;
        if (handle >= 0) nativeKvm().vcpuUnmapRun(handle);
        if (this.state === 'running' || this.state === 'paused' || this.state === 'created') this.state = 'stopped';
        done();
      }));
    });
  }

  /** Service loop: wait (without blocking the event loop) for forwarded exits. */
  private async serve(): Promise<void> {
    const w = this.channel.words;
    while (this.serving) {
      const cur = Atomics.load(w, W.REQ);
      if (cur !== REQ_POSTED) {
        const r = Atomics.waitAsync(w, W.REQ, cur);
        if (r.async) await r.value;
        continue;
      }
      try {
        this.answer();
      } catch (e) {
        this.deps.onMessage(this.id, { type: 'error', message: `device model failed: ${(e as Error).message}` });
      }
      Atomics.store(w, W.REQ, REQ_ANSWERED);
      Atomics.notify(w, W.REQ);
    }
  }

  private answer(): void {
    const w = this.channel.words;
    const kind = w[W.KIND] as ExitKind;
    const size = w[W.SIZE]!;
    const count = w[W.COUNT]!;
    const addr = (w[W.ADDR_LO]! >>> 0) + (w[W.ADDR_HI]! >>> 0) * 2 ** 32;
    switch (kind) {
      case ExitKind.PioOut:
        if (count === 1) this.deps.pio.write(addr, size, w[W.VALUE]! >>> 0);
        else this.stringOut(addr, size, count);
        break;
      case ExitKind.PioIn:
        if (count === 1) w[W.VALUE] = this.deps.pio.read(addr, size) | 0;
        else this.stringIn(addr, size, count);
        break;
      case ExitKind.MmioRead:
        if (size === 8) {
          w[W.VALUE] = this.deps.mmio.read(addr, 4) | 0;
          w[W.VALUE_HI] = this.deps.mmio.read(addr + 4, 4) | 0;
        } else {
          w[W.VALUE] = this.deps.mmio.read(addr, size) | 0;
          w[W.VALUE_HI] = 0;
        }
        break;
      case ExitKind.MmioWrite:
        if (size === 8) {
          this.deps.mmio.write(addr, 4, w[W.VALUE]! >>> 0);
          this.deps.mmio.write(addr + 4, 4, w[W.VALUE_HI]! >>> 0);
        } else {
          this.deps.mmio.write(addr, size, w[W.VALUE]! >>> 0);
        }
        break;
      case ExitKind.IoapicEoi:
        this.deps.onEoi(w[W.VALUE]! & 0xff);
        break;
      case ExitKind.Hypercall:
        w[W.VALUE] = -14; // -EFAULT if the handler fails (it must not; serve() logs it)
        w[W.VALUE] = this.deps.hypercall ? this.deps.hypercall(this.channel.data) : -38; // -ENOSYS
        break;
    }
  }

  private stringOut(port: number, size: number, count: number): void {
    const dv = new DataView(this.channel.data.buffer, this.channel.data.byteOffset);
    for (let i = 0; i < count; i++) {
      const v = size === 1 ? dv.getUint8(i) : size === 2 ? dv.getUint16(i * 2, true) : dv.getUint32(i * 4, true);
      this.deps.pio.write(port, size, v);
    }
  }

  private stringIn(port: number, size: number, count: number): void {
    const dv = new DataView(this.channel.data.buffer, this.channel.data.byteOffset);
    for (let i = 0; i < count; i++) {
      const v = this.deps.pio.read(port, size);
      if (size === 1) dv.setUint8(i, v);
      else if (size === 2) dv.setUint16(i * 2, v, true);
      else dv.setUint32(i * 4, v, true);
    }
  }

  private control(req: ControlRequest): void {
    Atomics.store(this.channel.words, W.CONTROL, req);
    Atomics.notify(this.channel.words, W.CONTROL);
    // Read from the shared words, not from the 'ready' message: the worker publishes them
    // before it first reads CONTROL, so either it sees the request or we see its TID and kick.
    // (Waiting for the message lost a stop issued between its posting and its delivery.)
    const tid = Atomics.load(this.channel.words, W.TID);
    const handle = Atomics.load(this.channel.words, W.RUN_HANDLE) - 1;
    if (tid && handle >= 0 && this.live) nativeKvm().vcpuKick(handle, tid);
  }

  private get live(): boolean {
    return this.state !== 'stopped' && this.state !== 'crashed';
  }

  // The worker acts on CONTROL whatever state it last reported, so these do not wait for
  // state messages (which arrive after the shared STATE word changes).
  pause(): void {
    if (this.live) this.control(ControlRequest.Pause);
  }

  resume(): void {
    if (this.live) this.control(ControlRequest.Run);
  }

  /** Stop the vCPU and wait for its worker to end (bounded: a stuck worker is terminated). */
  async stop(timeoutMs = 2000): Promise<void> {
    if (!this.worker) return;
    this.control(ControlRequest.Stop);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') await this.worker.terminate();
    await this.exited;
  }

  reportedState(): VcpuState {
    return VCPU_STATES[Atomics.load(this.channel.words, W.STATE)] ?? 'created';
  }

  exitCount(): number {
    return Atomics.load(this.channel.words, W.EXITS);
  }

  localIoCount(): number {
    return Atomics.load(this.channel.words, W.LOCAL_IO);
  }
}
