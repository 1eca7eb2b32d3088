// Back-end ("device") side of one vhost-user connection: answers the front-end's
// messages (features, memory table, vring setup, config space), maps guest memory, turns
// each started and enabled vring into a SplitVirtqueue, and on every kick eventfd hands
// the queue to the device model. The device pops chains, serves them, pushes them back
// and calls BackendQueue.complete(), which signals the call eventfd when the driver wants
// an interrupt.
//
// Messages are handled one at a time, in order (some wait: GET_VRING_BASE and a new
// memory table first drain the requests in flight). Every message is validated; a bad one
// closes the connection with a VhostProtocolError. Bad ring contents from the guest stop
// only that queue (and signal its error eventfd when the front-end gave one).
import { VmmError } from '../errors.js';
import { SplitVirtqueue, isValidQueueSize, ringPartSizes, type DescChain } from '../virtio/virtqueue.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC } from '../virtio/constants.js';
import { BackendMemory } from './backend-memory.js';
import { VhostChannel, safeClose, type VhostMessage } from './channel.js';
import { nativeUnix } from './native.js';
import * as P from './protocol.js';

const { Req } = P;

/** A device model served over vhost-user. */
export interface VhostUserDevice {
  readonly name: string;
  readonly numQueues: number;
  /** Device feature bits plus transport ones it supports (VERSION_1, ring features). */
  features(): bigint;
  /** The device's config space. */
  config(): Uint8Array;
  /** Work is (or may be) available on a started, enabled queue. */
  processQueue(q: BackendQueue): void;
}

/** Protocol features this back-end offers. */
export const BACKEND_PROTOCOL_FEATURES = P.bit(P.ProtocolFeature.MQ) | P.bit(P.ProtocolFeature.REPLY_ACK) | P.bit(P.ProtocolFeature.CONFIG);

interface Vring {
  num: number;
  addr: P.VringAddr | undefined;
  base: number;
  kickFd: number;
  callFd: number;
  errFd: number;
  enabled: boolean;
  started: boolean;
  kickWatch: number;
  queue: BackendQueue | undefined;
}

/** A running vring as a device model sees it. */
export class BackendQueue {
  private inflight = 0;
  private drainWaiters: (() => void)[] = [];
  stopped = false;

  constructor(
    readonly index: number,
    readonly vq: SplitVirtqueue,
    private readonly ring: Vring,
    private readonly log: (m: string) => void,
  ) {}

  /**
   * Hand every available chain to `serve` (after counting it with begin()); a ring the
   * guest corrupted stops the queue instead of throwing.
   */
  forEachAvailable(serve: (chain: DescChain) => void): void {
    for (;;) {
      let chain: DescChain | null;
      try {
        chain = this.vq.pop();
      } catch (e) {
        this.fail(e);
        return;
      }
      if (!chain) return;
      this.begin();
      serve(chain);
    }
  }

  /** Count a request the device is serving asynchronously. */
  begin(): void {
    this.inflight++;
  }

  /** A request finished: push it and notify the driver if it wants it. */
  complete(head: number, written: number): void {
    this.inflight--;
    if (!this.stopped) {
      try {
        this.vq.push(head, written);
        if (this.vq.needsNotify()) this.signal(this.ring.callFd);
      } catch (e) {
        this.fail(e);
      }
    }
    if (this.inflight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Bad ring contents: stop the queue and tell the front-end through the error eventfd. */
  fail(e: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.log(`queue ${this.index} stopped: ${(e as Error).message ?? String(e)}`);
    this.signal(this.ring.errFd);
  }

  drained(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((r) => this.drainWaiters.push(r));
  }

  private signal(fd: number): void {
    if (fd < 0) return;
    try {
      nativeUnix().write(fd, ONE);
    } catch {
      // the front-end closed its end; nothing to notify
    }
  }
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

export class VhostUserBackend {
  private readonly n = nativeUnix();
  private readonly channel: VhostChannel;
  private memory: BackendMemory | undefined;
  private readonly rings: Vring[];
  private ackedFeatures = 0n;
  private protocolFeatures = 0n;
  private work: Promise<void> = Promise.resolve();

  constructor(
    fd: number,
    private readonly device: VhostUserDevice,
    private readonly onClose: (reason: Error | undefined) => void,
    private readonly log: (m: string) => void = (m) => process.stderr.write(`${device.name}: ${m}\n`),
  ) {
    this.rings = Array.from({ length: device.numQueues }, () => newVring());
    this.channel = new VhostChannel(fd, { onMessage: (m) => this.enqueue(m), onClose: (r) => this.closed(r) }, device.name);
  }

  close(): void {
    this.channel.close();
  }

  private enqueue(msg: VhostMessage): void {
    this.work = this.work.then(async () => {
      if (this.channel.isClosed) return msg.fds.forEach((f) => safeClose(this.n, f));
      try {
        await this.handle(msg);
      } catch (e) {
        msg.fds.forEach((f) => safeClose(this.n, f));
        this.channel.close(e instanceof P.VhostProtocolError ? e : new P.VhostProtocolError(`${P.reqName(msg.request)}: ${(e as Error).message}`, { cause: e }));
      }
    });
  }

  private closed(reason: Error | undefined): void {
    const running = this.rings.flatMap((r) => (r.queue ? [r.queue] : []));
    for (const r of this.rings) this.stopRing(r, true);
    // Requests in flight still read and write guest memory (a write's data goes to the
    // image from it): unmap only once they have finished. Their completions are dropped.
    const memory = this.memory;
    this.memory = undefined;
    void Promise.all(running.map((q) => q.drained())).then(() => memory?.unmap());
    this.onClose(reason);
  }

  private reply(msg: VhostMessage, payload: Uint8Array): void {
    this.channel.send(msg.request, P.VHOST_USER_FLAG_REPLY, payload);
  }

  private async handle(msg: VhostMessage): Promise<void> {
    const fdsAllowed = msg.request === Req.SET_MEM_TABLE || msg.request === Req.SET_VRING_KICK || msg.request === Req.SET_VRING_CALL || msg.request === Req.SET_VRING_ERR;
    if (!fdsAllowed && msg.fds.length > 0) throw new P.VhostProtocolError(`${P.reqName(msg.request)}: unexpected fds`);
    if (msg.flags & P.VHOST_USER_FLAG_REPLY) throw new P.VhostProtocolError(`${P.reqName(msg.request)}: unsolicited reply`);
    let ok = true;
    const p = msg.payload;
    switch (msg.request) {
      case Req.GET_FEATURES:
        return this.reply(msg, P.encodeU64(this.offeredFeatures()));
      case Req.SET_FEATURES: {
        const f = P.decodeU64(p, 'SET_FEATURES');
        if ((f & ~this.offeredFeatures()) !== 0n) throw new P.VhostProtocolError(`SET_FEATURES: 0x${f.toString(16)} has bits we did not offer`);
        this.ackedFeatures = f;
        break;
      }
      case Req.GET_PROTOCOL_FEATURES:
        return this.reply(msg, P.encodeU64(BACKEND_PROTOCOL_FEATURES));
      case Req.SET_PROTOCOL_FEATURES: {
        const f = P.decodeU64(p, 'SET_PROTOCOL_FEATURES');
        if ((f & ~BACKEND_PROTOCOL_FEATURES) !== 0n) throw new P.VhostProtocolError(`SET_PROTOCOL_FEATURES: 0x${f.toString(16)} has bits we did not offer`);
        this.protocolFeatures = f;
        break;
      }
      case Req.SET_OWNER:
        noPayload(msg);
        break;
      case Req.RESET_OWNER:
        noPayload(msg);
        for (const r of this.rings) await this.drainAndStop(r);
        this.ackedFeatures = 0n;
        break;
      case Req.GET_QUEUE_NUM:
        noPayload(msg);
        return this.reply(msg, P.encodeU64(this.device.numQueues));
      case Req.SET_MEM_TABLE:
        await this.setMemTable(msg);
        break;
      case Req.SET_VRING_NUM: {
        const s = P.decodeVringState(p, 'SET_VRING_NUM');
        if (!isValidQueueSize(s.num)) throw new P.VhostProtocolError(`SET_VRING_NUM: bad size ${s.num}`);
        this.ringAt(s.index, 'SET_VRING_NUM').num = s.num;
        break;
      }
      case Req.SET_VRING_ADDR: {
        const a = P.decodeVringAddr(p);
        if (a.flags & P.VHOST_VRING_F_LOG) throw new P.VhostProtocolError('SET_VRING_ADDR: logging was not negotiated');
        this.ringAt(a.index, 'SET_VRING_ADDR').addr = a;
        break;
      }
      case Req.SET_VRING_BASE: {
        const s = P.decodeVringState(p, 'SET_VRING_BASE');
        if (s.num > 0xffff) throw new P.VhostProtocolError(`SET_VRING_BASE: ${s.num} is not a 16-bit index`);
        this.ringAt(s.index, 'SET_VRING_BASE').base = s.num;
        break;
      }
      case Req.GET_VRING_BASE: {
        const s = P.decodeVringState(p, 'GET_VRING_BASE');
        const r = this.ringAt(s.index, 'GET_VRING_BASE');
        await this.drainAndStop(r);
        return this.reply(msg, P.encodeVringState({ index: s.index, num: r.base }));
      }
      case Req.SET_VRING_KICK:
      case Req.SET_VRING_CALL:
      case Req.SET_VRING_ERR:
        this.setVringFd(msg);
        break;
      case Req.SET_VRING_ENABLE: {
        const s = P.decodeVringState(p, 'SET_VRING_ENABLE');
        if (s.num > 1) throw new P.VhostProtocolError(`SET_VRING_ENABLE: bad value ${s.num}`);
        const r = this.ringAt(s.index, 'SET_VRING_ENABLE');
        r.enabled = s.num === 1;
        if (r.enabled) this.maybeStart(r, s.index);
        break;
      }
      case Req.GET_CONFIG: {
        if (!P.hasBit(this.protocolFeatures, P.ProtocolFeature.CONFIG)) throw new P.VhostProtocolError('GET_CONFIG: CONFIG was not negotiated');
        const c = P.decodeConfig(p, 'GET_CONFIG');
        const data = new Uint8Array(c.size);
        data.set(this.device.config().subarray(c.offset, c.offset + c.size));
        return this.reply(msg, P.encodeConfig({ offset: c.offset, flags: c.flags, data }));
      }
      case Req.SET_CONFIG:
        P.decodeConfig(p, 'SET_CONFIG');
        ok = false; // no writable config fields are offered
        break;
      default:
        throw new P.VhostProtocolError(`unsupported ${P.reqName(msg.request)}`);
    }
    if (msg.flags & P.VHOST_USER_FLAG_NEED_REPLY && P.hasBit(this.protocolFeatures, P.ProtocolFeature.REPLY_ACK)) {
      this.reply(msg, P.encodeU64(ok ? 0 : 1));
    }
  }

  private offeredFeatures(): bigint {
    return this.device.features() | P.bit(P.VHOST_USER_F_PROTOCOL_FEATURES);
  }

  private ringAt(index: number, what: string): Vring {
    const r = this.rings[index];
    if (!r) throw new P.VhostProtocolError(`${what}: vring ${index} does not exist (${this.rings.length} queues)`);
    return r;
  }

  private async setMemTable(msg: VhostMessage): Promise<void> {
    const regions = P.decodeMemTable(msg.payload);
    const running = this.rings.map((r, i) => (r.queue ? i : -1)).filter((i) => i >= 0);
    for (const r of this.rings) if (r.queue) await r.queue.drained();
    const fresh = BackendMemory.map(regions, msg.fds);
    for (const i of running) this.stopRing(this.rings[i]!, false);
    this.memory?.unmap();
    this.memory = fresh;
    for (const i of running) this.maybeStart(this.rings[i]!, i);
  }

  private setVringFd(msg: VhostMessage): void {
    const what = P.reqName(msg.request);
    const v = P.decodeVringFd(msg.payload, what);
    if (v.noFd ? msg.fds.length !== 0 : msg.fds.length !== 1) throw new P.VhostProtocolError(`${what}: ${msg.fds.length} fds with ${v.noFd ? 'NOFD' : 'an fd'}`);
    const r = this.ringAt(v.index, what);
    const fd = v.noFd ? -1 : msg.fds[0]!;
    if (msg.request === Req.SET_VRING_CALL) {
      if (r.callFd >= 0) safeClose(this.n, r.callFd);
      r.callFd = fd;
    } else if (msg.request === Req.SET_VRING_ERR) {
      if (r.errFd >= 0) safeClose(this.n, r.errFd);
      r.errFd = fd;
    } else {
      this.stopRing(r, false);
      if (r.kickFd >= 0) safeClose(this.n, r.kickFd);
      r.kickFd = fd;
      r.started = true;
      // Without VHOST_USER_F_PROTOCOL_FEATURES a ring is enabled as soon as it starts.
      if (!P.hasBit(this.ackedFeatures, P.VHOST_USER_F_PROTOCOL_FEATURES)) r.enabled = true;
      this.maybeStart(r, v.index);
    }
  }

  /** Build the virtqueue once the ring is started, enabled and fully described. */
  private maybeStart(r: Vring, index: number): void {
    if (!r.started || !r.enabled || r.queue || !r.addr || r.num === 0) return;
    if (!this.memory) throw new P.VhostProtocolError(`vring ${index}: started before SET_MEM_TABLE`);
    const eventIdx = P.hasBit(this.ackedFeatures, VIRTIO_F_EVENT_IDX);
    const sizes = ringPartSizes(r.num, eventIdx);
    const { desc, avail, used } = r.addr;
    if (desc % 16n !== 0n || avail % 2n !== 0n || used % 4n !== 0n) throw new P.VhostProtocolError(`vring ${index}: misaligned ring address`);
    const d = this.memory.sliceUser(desc, sizes.desc);
    const a = this.memory.sliceUser(avail, sizes.avail);
    const u = this.memory.sliceUser(used, sizes.used);
    if (!d || !a || !u) throw new P.VhostProtocolError(`vring ${index}: ring addresses are outside the memory table`);
    const vq = new SplitVirtqueue({
      size: r.num,
      desc: d,
      avail: a,
      used: u,
      memory: this.memory,
      eventIdx,
      indirect: P.hasBit(this.ackedFeatures, VIRTIO_F_INDIRECT_DESC),
      nextAvail: r.base,
    });
    const q = new BackendQueue(index, vq, r, this.log);
    r.queue = q;
    if (r.kickFd >= 0) {
      r.kickWatch = this.n.unixWatchReadable(r.kickFd, () => this.kicked(r, q), false);
    }
    this.device.processQueue(q); // buffers made available before the kick fd arrived
  }

  private kicked(r: Vring, q: BackendQueue): void {
    const buf = new Uint8Array(8);
    try {
      this.n.read(r.kickFd, buf);
    } catch (e) {
      q.fail(e);
      return;
    }
    if (r.queue === q && !q.stopped) this.device.processQueue(q);
  }

  private async drainAndStop(r: Vring): Promise<void> {
    const q = r.queue;
    if (q) {
      q.stopped = true;
      await q.drained();
    }
    this.stopRing(r, false);
    r.started = false;
  }

  /** Stop the running queue (recording where it stopped); `all` also drops every fd. */
  private stopRing(r: Vring, all: boolean): void {
    if (r.queue) {
      r.queue.stopped = true;
      r.base = r.queue.vq.lastAvailIdx;
      r.queue = undefined;
    }
    if (r.kickWatch >= 0) this.n.unixUnwatch(r.kickWatch);
    r.kickWatch = -1;
    if (all) {
      for (const fd of [r.kickFd, r.callFd, r.errFd]) if (fd >= 0) safeClose(this.n, fd);
      Object.assign(r, newVring());
    }
  }
}

function newVring(): Vring {
  return { num: 0, addr: undefined, base: 0, kickFd: -1, callFd: -1, errFd: -1, enabled: false, started: false, kickWatch: -1, queue: undefined };
}

function noPayload(msg: VhostMessage): void {
  if (msg.payload.length !== 0 && msg.payload.length !== 8) {
    throw new P.VhostProtocolError(`${P.reqName(msg.request)}: unexpected ${msg.payload.length}-byte payload`);
  }
}

