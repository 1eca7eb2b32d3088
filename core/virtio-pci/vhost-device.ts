// A virtio-pci device whose model runs in a vhost-user back-end: the glue between the
// guest-visible transport (transport.ts) and a VhostUserFrontend (core/vhost).
//
// start(): launch/connect the back-end, SET_OWNER, read its features and protocol
// features, share guest RAM (SET_MEM_TABLE over the RAM memfd), cache its config space
// (GET_CONFIG) and offer the guest (back-end features ∩ what we support) | VERSION_1.
// Guest programming then drives the back-end:
//   FEATURES_OK -> SET_FEATURES; DRIVER_OK -> per enabled queue SET_VRING_NUM/BASE/ADDR,
//   CALL = the MSI-X vector's irqfd eventfd (notifierFd; no vector -> a sink eventfd),
//   KICK = the queue's ioeventfd eventfd, SET_VRING_ENABLE; device reset -> SET_VRING_ENABLE 0
//   and GET_VRING_BASE (stops each ring) before device_status reads 0.
// So kicks go guest -> KVM ioeventfd -> back-end, and interrupts back-end -> irqfd -> guest,
// neither through this process. A back-end that goes away marks the device failed: status
// gets DEVICE_NEEDS_RESET with a config interrupt, ctx.onFailure runs, the VM keeps going;
// restart() starts a new back-end and the guest resets and re-initialises the device.
import { VmmError } from '../errors.js';
import { nativeEventFds, type EventFdOps } from '../irq/eventfd.js';
import type { MsiInterruptGroup, InterruptSourceStats } from '../irq/interrupt-manager.js';
import { bindMsix, pbaMirror } from '../machine/msix-binding.js';
import type { PciDevice, PciDeviceContext, PciDeviceState } from '../machine/pci-device.js';
import type { PciFunction } from '../pci/pci-function.js';
import type { VhostUserFrontend } from '../vhost/frontend.js';
import { VhostRequestFailedError } from '../vhost/frontend.js';
import * as P from '../vhost/protocol.js';
import { frontendRegions } from '../vhost/shared-memory.js';
import { ringPartSizes } from '../virtio/virtqueue.js';
import type { BackendLauncher } from './backend-launcher.js';
import type { QueueConfig } from './common-cfg.js';
import { VIRTIO_F_RING_EVENT_IDX, VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MSI_NO_VECTOR } from './constants.js';
import { QueueNotifiers } from './queue-notifiers.js';
import { VirtioPciTransport } from './transport.js';

export class VirtioBackendError extends VmmError {}

/** What distinguishes one virtio device type from another at the transport level. */
export interface VirtioDeviceKind {
  deviceType: number;
  classCode: number;
  numQueues: number;
  configSize: number;
  /** Device-specific feature bits (0..23) we pass through when the back-end offers them. */
  deviceFeatures: bigint;
}

/** Transport feature bits we implement (split rings only; no packed ring, no notification data). */
export const SUPPORTED_TRANSPORT_FEATURES = P.bit(VIRTIO_F_VERSION_1) | P.bit(VIRTIO_F_RING_INDIRECT_DESC) | P.bit(VIRTIO_F_RING_EVENT_IDX);
const WANTED_PROTOCOL = P.bit(P.ProtocolFeature.MQ) | P.bit(P.ProtocolFeature.REPLY_ACK) | P.bit(P.ProtocolFeature.CONFIG);

export class VhostVirtioPciDevice implements PciDevice {
  readonly name: string;
  readonly transport: VirtioPciTransport;
  private readonly group: MsiInterruptGroup;
  private readonly notifiers: QueueNotifiers;
  private readonly sinkFd: number;
  private readonly eventfds: EventFdOps;
  private fe: VhostUserFrontend | undefined;
  private backendFeatures = 0n;
  private _state: PciDeviceState = 'created';
  /** Queues the back-end is running (SET_VRING_KICK sent, not yet stopped). */
  private readonly started = new Set<number>();
  private ops: Promise<void> = Promise.resolve();
  private opsPending = 0;
  readonly counters = { backendStarts: 0, failures: 0, restarts: 0, queueStarts: 0, queueStops: 0, refusedRequests: 0, refusedConfigWrites: 0, configRefreshes: 0 };

  constructor(
    readonly kind: VirtioDeviceKind,
    private readonly launcher: BackendLauncher,
    private readonly ctx: PciDeviceContext,
    eventfds: EventFdOps = nativeEventFds(),
  ) {
    this.name = ctx.name;
    this.transport = new VirtioPciTransport(
      { name: ctx.name, deviceType: kind.deviceType, classCode: kind.classCode, numQueues: kind.numQueues, configSize: kind.configSize },
      {
        featuresOk: (f) => this.featuresOk(f),
        ringOk: (q) => this.ringOk(q),
        driverOk: (qs) => qs.forEach((q) => this.startQueue(q)),
        queueEnabled: (q) => (this.ringOk(q) ? this.startQueue(q) : this.transport.common.setNeedsReset(`queue ${q.index}: unusable ring`)),
        vectorChanged: (q) => this.vectorChanged(q),
        reset: (done) => this.reset(done),
        needsReset: (why) => {
          ctx.log(`device needs reset: ${why}`);
          this.transport.raiseConfigInterrupt();
        },
        notify: (q) => this.notifiers.signal(q),
        configWritten: (o, d) => this.configWritten(o, d),
      },
    );
    const msix = this.transport.msix;
    this.group = ctx.interrupts.createMsiGroup({ device: ctx.name, vectors: msix.vectors, onPending: pbaMirror(() => msix) });
    bindMsix(msix, this.group, ctx.xenMsi && { msi: ctx.xenMsi, device: ctx.name });
    this.notifiers = new QueueNotifiers(ctx.vm, eventfds, kind.numQueues, ctx.log);
    this.sinkFd = eventfds.create();
    this.eventfds = eventfds;
    this.transport.onBarWrite(() => this.notifiers.update((q) => this.transport.notifyAddress(q)));
    launcher.onExit((e) => {
      if (this._state === 'running') ctx.log(`back-end exited (${e.signal ?? `status ${e.code}`})${e.stderr ? `: ${e.stderr.split('\n').slice(-3).join(' | ')}` : ''}`);
    });
  }

  get fn(): PciFunction {
    return this.transport.fn;
  }
  get state(): PciDeviceState {
    return this._state;
  }

  async start(): Promise<void> {
    if (this._state !== 'created') throw new VirtioBackendError(`${this.name}: start() in state ${this._state}`);
    await this.attach(await this.launcher.start());
  }

  async restart(): Promise<void> {
    if (this._state === 'stopped') throw new VirtioBackendError(`${this.name}: restart() after stop()`);
    this.counters.restarts++;
    this.fe?.close();
    this.fe = undefined;
    await this.attach(await this.launcher.restart());
    this.ctx.log(`back-end restarted (${this.launcher.describe()}); the driver must reset the device`);
  }

  async stop(): Promise<void> {
    if (this._state === 'stopped') return;
    this._state = 'stopped';
    this.fe?.close();
    this.fe = undefined;
    await this.launcher.stop();
    this.notifiers.dispose();
    this.eventfds.close(this.sinkFd);
  }

  interruptStats(): InterruptSourceStats[] {
    return this.group.stats();
  }

  deviceStats(): Record<string, number | number[]> {
    const t = this.transport.stats;
    const c = this.transport.common.stats;
    const n = this.notifiers.stats;
    return {
      status: this.transport.common.status,
      driverFeatures: splitU64(this.transport.common.negotiated),
      offeredFeatures: splitU64(this.transport.common.offeredFeatures),
      queuesRunning: this.started.size,
      ioeventfds: this.notifiers.inKernel,
      ioeventfdRegistrations: n.registrations,
      slowPathNotifies: n.slowPath,
      ioeventfdRefused: n.refused,
      ...prefixed('transport', t),
      ...prefixed('cfg', c),
      ...this.counters,
    };
  }

  // ---- back-end connection ----

  private async attach(fe: VhostUserFrontend): Promise<void> {
    this.fe = fe;
    this.started.clear();
    fe.onDisconnect((reason) => this.failed(fe, reason.message));
    try {
      await fe.setOwner();
      const offered = await fe.getFeatures();
      if (P.hasBit(offered, P.VHOST_USER_F_PROTOCOL_FEATURES)) {
        const proto = (await fe.getProtocolFeatures()) & WANTED_PROTOCOL;
        await fe.setProtocolFeatures(proto);
        fe.protocolFeatures = proto;
      }
      if (P.hasBit(fe.protocolFeatures, P.ProtocolFeature.MQ)) {
        const n = await fe.getQueueNum();
        if (n < this.kind.numQueues) throw new VirtioBackendError(`${this.name}: back-end has ${n} queues, the device needs ${this.kind.numQueues}`);
      }
      await fe.setMemTable(frontendRegions(this.ctx.layout, this.ctx.ram.memfd, this.ctx.ram.hva));
      this.backendFeatures = offered;
      this.transport.common.setOffered((offered & (this.kind.deviceFeatures | SUPPORTED_TRANSPORT_FEATURES)) | P.bit(VIRTIO_F_VERSION_1));
      await this.refreshConfig(fe);
    } catch (e) {
      fe.close();
      throw e;
    }
    this.counters.backendStarts++;
    this._state = 'running';
  }

  private async refreshConfig(fe: VhostUserFrontend): Promise<void> {
    if (this.kind.configSize === 0 || !P.hasBit(fe.protocolFeatures, P.ProtocolFeature.CONFIG)) return;
    const bytes = await fe.getConfig(0, this.kind.configSize);
    this.transport.config.set(bytes.subarray(0, this.kind.configSize));
    this.counters.configRefreshes++;
  }

  private failed(fe: VhostUserFrontend, reason: string): void {
    if (fe !== this.fe || this._state === 'stopped') return;
    this._state = 'failed';
    this.counters.failures++;
    this.started.clear();
    this.transport.common.setNeedsReset(`back-end gone: ${reason}`);
    this.ctx.onFailure(`${this.launcher.describe()}: ${reason}`);
  }

  /** Run back-end steps one after another; a refused request needs a reset, a dead link fails. */
  private enqueue(what: string, step: (fe: VhostUserFrontend) => Promise<void>): void {
    const fe = this.fe;
    this.opsPending++;
    this.ops = this.ops.then(async () => {
      if (!fe || fe !== this.fe || this._state !== 'running') return;
      try {
        await step(fe);
      } catch (e) {
        if (fe.state !== 'connected') return; // failed() reports it
        this.counters.refusedRequests++;
        this.ctx.log(`${what}: ${(e as Error).message}`);
        if (e instanceof VhostRequestFailedError || e instanceof P.VhostProtocolError) this.transport.common.setNeedsReset(`${what} failed`);
      }
    }).finally(() => void this.opsPending--);
  }

  // ---- transport hooks ----

  private featuresOk(f: bigint): boolean {
    if (this._state !== 'running' || !this.fe) return false;
    const acked = (f & this.backendFeatures) | (this.backendFeatures & P.bit(P.VHOST_USER_F_PROTOCOL_FEATURES));
    this.enqueue('SET_FEATURES', async (fe) => {
      await fe.setFeatures(acked);
      fe.features = acked;
    });
    return true;
  }

  private ringOk(q: QueueConfig): boolean {
    const s = ringPartSizes(q.size, true);
    const mem = this.ctx.ram.memory;
    return (
      q.desc % 16 === 0 && q.driver % 2 === 0 && q.device % 4 === 0 &&
      mem.isRam(q.desc, s.desc) && mem.isRam(q.driver, s.avail) && mem.isRam(q.device, s.used)
    );
  }

  private startQueue(q: QueueConfig): void {
    const setup = { size: q.size, desc: q.desc, avail: q.driver, used: q.device, kickFd: this.notifiers.kickFds[q.index]!, base: 0 };
    const vector = q.vector;
    this.enqueue(`queue ${q.index} start`, async (fe) => {
      await fe.startQueue(q.index, { ...setup, callFd: this.callFd(vector) });
      this.started.add(q.index);
      this.counters.queueStarts++;
    });
  }

  private callFd(vector: number): number {
    return vector === VIRTIO_MSI_NO_VECTOR ? this.sinkFd : this.group.notifierFd(vector);
  }

  private vectorChanged(q: QueueConfig): void {
    const { index, vector } = q;
    this.enqueue(`queue ${index} vector`, async (fe) => {
      if (this.started.has(index)) await fe.setVringCall(index, this.callFd(vector));
    });
  }

  private reset(done: () => void): void {
    // Nothing running and nothing on its way to the back-end: done at once.
    if (this.started.size === 0 && this.opsPending === 0) return done();
    const queues = [...this.started];
    this.enqueue('reset', async (fe) => {
      for (const i of queues) {
        if (P.hasBit(fe.features, P.VHOST_USER_F_PROTOCOL_FEATURES)) await fe.setVringEnable(i, false);
        await fe.getVringBase(i);
        this.started.delete(i);
        this.counters.queueStops++;
      }
    });
    // Completes after the back-end stopped the rings, or at once when it is gone.
    this.ops = this.ops.then(() => {
      this.started.clear();
      done();
    });
  }

  private configWritten(offset: number, data: Uint8Array): void {
    this.enqueue('SET_CONFIG', async (fe) => {
      if (!P.hasBit(fe.protocolFeatures, P.ProtocolFeature.CONFIG)) return;
      try {
        await fe.setConfig(offset, data);
      } catch (e) {
        if (!(e instanceof VhostRequestFailedError)) throw e;
        this.counters.refusedConfigWrites++; // read-only field: the guest reads the old value
      }
      await this.refreshConfig(fe);
    });
  }
}

function splitU64(v: bigint): number[] {
  return [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)];
}

function prefixed(p: string, o: object): Record<string, number> {
  return Object.fromEntries(Object.entries(o as Record<string, number>).map(([k, v]) => [`${p}.${k}`, v]));
}
