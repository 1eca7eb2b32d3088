// Front-end ("VMM") side of a vhost-user connection: connects to a device process's
// socket, negotiates virtio and protocol features, shares guest memory (memfd + region
// offsets in SET_MEM_TABLE), sets up vrings with kick/call eventfds and reads config space.
//
// Requests go out one at a time; every reply (and every REPLY_ACK) has a deadline. A
// malformed or unexpected message from the back-end, a missed deadline, or the socket
// closing all end the connection: the frontend moves to state "failed", the pending
// request rejects, and disconnect listeners run once with the reason. The VM keeps
// running; the owner marks the device failed and may connect a new frontend (restart).
import { VmmError } from '../errors.js';
import { ringPartSizes } from '../virtio/virtqueue.js';
import { VhostChannel, safeClose, type VhostMessage } from './channel.js';
import { nativeUnix } from './native.js';
import * as P from './protocol.js';

const { Req } = P;

export class VhostConnectError extends VmmError {}
export class VhostTimeoutError extends VmmError {}
export class VhostRequestFailedError extends VmmError {}
export class VhostFrontendClosedError extends VmmError {}

/** One guest RAM region as the front-end shares it. */
export interface FrontendRegion {
  guestAddr: number;
  size: number;
  /** Where the region lives in this process (vring addresses are sent in this space). */
  userAddr: bigint;
  /** memfd (or other shareable fd) holding the region, and the region's offset in it. */
  fd: number;
  fdOffset: number;
}

export interface FrontendOptions {
  name?: string;
  /** Deadline for each reply, ms (default 5000). */
  replyTimeoutMs?: number;
  /** How long connect() keeps retrying while the socket is absent or refusing (default 5000). */
  connectTimeoutMs?: number;
}

export interface QueueSetup {
  size: number;
  /** Guest-physical addresses of the descriptor table, avail ring and used ring. */
  desc: number;
  avail: number;
  used: number;
  kickFd: number;
  callFd: number;
  errFd?: number;
  base?: number;
}

export type FrontendState = 'connected' | 'failed' | 'closed';

interface Pending {
  request: number;
  resolve: (m: VhostMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class VhostUserFrontend {
  private readonly channel: VhostChannel;
  private readonly name: string;
  private readonly timeoutMs: number;
  private pending: Pending | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private listeners: ((reason: Error) => void)[] = [];
  private regions: FrontendRegion[] = [];
  private _state: FrontendState = 'connected';
  private failure: Error | undefined;
  /** Negotiated values (valid after negotiate()). */
  features = 0n;
  protocolFeatures = 0n;

  private constructor(fd: number, opts: FrontendOptions) {
    this.name = opts.name ?? 'vhost-user';
    this.timeoutMs = opts.replyTimeoutMs ?? 5000;
    this.channel = new VhostChannel(fd, { onMessage: (m) => this.message(m), onClose: (r) => this.closed(r) }, this.name);
  }

  /** Connect to a back-end's socket, retrying while it is not there yet. */
  static async connect(path: string, opts: FrontendOptions = {}): Promise<VhostUserFrontend> {
    const n = nativeUnix();
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 5000);
    for (;;) {
      const fd = n.unixSocket();
      try {
        n.unixConnect(fd, path);
        return new VhostUserFrontend(fd, opts);
      } catch (cause) {
        safeClose(n, fd);
        const errno = (cause as { errno?: number }).errno;
        const retry = errno === 2 /* ENOENT */ || errno === 111 /* ECONNREFUSED */ || errno === 11; /* EAGAIN */
        if (!retry || Date.now() >= deadline) throw new VhostConnectError(`cannot connect to ${path}`, { cause });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get state(): FrontendState {
    return this._state;
  }

  /** Run `cb` once when the back-end goes away (not after our own close()). */
  onDisconnect(cb: (reason: Error) => void): void {
    if (this._state === 'failed' && this.failure) cb(this.failure);
    else this.listeners.push(cb);
  }

  close(): void {
    if (this._state === 'connected') this._state = 'closed';
    this.channel.close();
  }

  // ---- the message set ----

  async getFeatures(): Promise<bigint> {
    return P.decodeU64((await this.call(Req.GET_FEATURES)).payload, 'GET_FEATURES reply');
  }
  async setFeatures(f: bigint): Promise<void> {
    await this.call(Req.SET_FEATURES, P.encodeU64(f));
  }
  async getProtocolFeatures(): Promise<bigint> {
    return P.decodeU64((await this.call(Req.GET_PROTOCOL_FEATURES)).payload, 'GET_PROTOCOL_FEATURES reply');
  }
  async setProtocolFeatures(f: bigint): Promise<void> {
    await this.call(Req.SET_PROTOCOL_FEATURES, P.encodeU64(f));
  }
  async setOwner(): Promise<void> {
    await this.call(Req.SET_OWNER);
  }
  async resetOwner(): Promise<void> {
    await this.call(Req.RESET_OWNER);
  }
  async getQueueNum(): Promise<number> {
    return P.safeNumber(P.decodeU64((await this.call(Req.GET_QUEUE_NUM)).payload, 'GET_QUEUE_NUM reply'), 'queue count');
  }

  /** Share guest memory: one fd per region travels with the message. */
  async setMemTable(regions: FrontendRegion[]): Promise<void> {
    const payload = P.encodeMemTable(
      regions.map((r) => ({ guestAddr: BigInt(r.guestAddr), size: BigInt(r.size), userAddr: r.userAddr, mmapOffset: BigInt(r.fdOffset) })),
    );
    await this.call(Req.SET_MEM_TABLE, payload, regions.map((r) => r.fd));
    this.regions = regions.slice();
  }

  async setVringNum(index: number, num: number): Promise<void> {
    await this.call(Req.SET_VRING_NUM, P.encodeVringState({ index, num }));
  }
  async setVringBase(index: number, base: number): Promise<void> {
    await this.call(Req.SET_VRING_BASE, P.encodeVringState({ index, num: base }));
  }
  /** Stops the ring in the back-end; returns the next avail index it would have used. */
  async getVringBase(index: number): Promise<number> {
    const s = P.decodeVringState((await this.call(Req.GET_VRING_BASE, P.encodeVringState({ index, num: 0 }))).payload, 'GET_VRING_BASE reply');
    if (s.index !== index || s.num > 0xffff) throw this.fail(new P.VhostProtocolError(`GET_VRING_BASE reply for vring ${s.index} = ${s.num}`));
    return s.num;
  }
  /** Ring addresses in this process's address space (see setVringAddrGpa). */
  async setVringAddr(index: number, desc: bigint, avail: bigint, used: bigint): Promise<void> {
    await this.call(Req.SET_VRING_ADDR, P.encodeVringAddr({ index, flags: 0, desc, avail, used, log: 0n }));
  }
  async setVringKick(index: number, fd: number | null): Promise<void> {
    await this.vringFd(Req.SET_VRING_KICK, index, fd);
  }
  async setVringCall(index: number, fd: number | null): Promise<void> {
    await this.vringFd(Req.SET_VRING_CALL, index, fd);
  }
  async setVringErr(index: number, fd: number | null): Promise<void> {
    await this.vringFd(Req.SET_VRING_ERR, index, fd);
  }
  async setVringEnable(index: number, on: boolean): Promise<void> {
    await this.call(Req.SET_VRING_ENABLE, P.encodeVringState({ index, num: on ? 1 : 0 }));
  }

  async getConfig(offset: number, size: number): Promise<Uint8Array> {
    const reply = await this.call(Req.GET_CONFIG, P.encodeConfig({ offset, data: new Uint8Array(size) }));
    const c = P.decodeConfig(reply.payload, 'GET_CONFIG reply');
    if (c.offset !== offset || c.size !== size) throw this.fail(new P.VhostProtocolError(`GET_CONFIG reply covers ${c.offset}+${c.size}, asked ${offset}+${size}`));
    return c.data;
  }
  async setConfig(offset: number, data: Uint8Array): Promise<void> {
    await this.call(Req.SET_CONFIG, P.encodeConfig({ offset, data, flags: P.VHOST_SET_CONFIG_TYPE_FRONTEND }));
  }

  // ---- higher-level steps ----

  /**
   * SET_OWNER, then features: `wanted` ∩ offered (plus PROTOCOL_FEATURES when offered),
   * and protocol features `wantedProtocol` ∩ offered. Returns the acked virtio features.
   */
  async negotiate(wanted: bigint, wantedProtocol: bigint = P.bit(P.ProtocolFeature.MQ) | P.bit(P.ProtocolFeature.REPLY_ACK) | P.bit(P.ProtocolFeature.CONFIG)): Promise<bigint> {
    await this.setOwner();
    const offered = await this.getFeatures();
    if (P.hasBit(offered, P.VHOST_USER_F_PROTOCOL_FEATURES)) {
      const proto = (await this.getProtocolFeatures()) & wantedProtocol;
      await this.setProtocolFeatures(proto);
      this.protocolFeatures = proto; // REPLY_ACK applies from the next message on
    }
    const acked = (offered & wanted) | (offered & P.bit(P.VHOST_USER_F_PROTOCOL_FEATURES));
    await this.setFeatures(acked);
    this.features = acked;
    return acked;
  }

  /** Describe and start one vring (guest-physical ring addresses are translated here). */
  async startQueue(index: number, q: QueueSetup): Promise<void> {
    const sizes = ringPartSizes(q.size, true);
    await this.setVringNum(index, q.size);
    await this.setVringBase(index, q.base ?? 0);
    await this.setVringAddr(index, this.toUser(q.desc, sizes.desc), this.toUser(q.avail, sizes.avail), this.toUser(q.used, sizes.used));
    if (q.errFd !== undefined) await this.setVringErr(index, q.errFd);
    await this.setVringCall(index, q.callFd);
    await this.setVringKick(index, q.kickFd);
    if (P.hasBit(this.features, P.VHOST_USER_F_PROTOCOL_FEATURES)) await this.setVringEnable(index, true);
  }

  private toUser(gpa: number, len: number): bigint {
    const r = this.regions.find((x) => gpa >= x.guestAddr && gpa + len <= x.guestAddr + x.size);
    if (!r) throw new VhostRequestFailedError(`ring at 0x${gpa.toString(16)}+${len} is not in the shared memory table`);
    return r.userAddr + BigInt(gpa - r.guestAddr);
  }

  private vringFd(request: number, index: number, fd: number | null): Promise<VhostMessage | undefined> {
    return this.call(request, P.encodeVringFd(index, fd === null), fd === null ? [] : [fd]);
  }

  // ---- request/reply machinery ----

  /** Send one request (after the previous one finished); resolve with its reply, if any. */
  private call(request: number, payload?: Uint8Array, fds: number[] = []): Promise<VhostMessage> {
    const run = async (): Promise<VhostMessage> => {
      if (this._state !== 'connected') throw new VhostFrontendClosedError(`${this.name}: ${this.failure?.message ?? 'connection closed'}`, { cause: this.failure });
      const hasReply = P.REQUESTS_WITH_REPLY.has(request);
      const ack = !hasReply && P.hasBit(this.protocolFeatures, P.ProtocolFeature.REPLY_ACK);
      const wait = hasReply || ack ? this.awaitReply(request) : undefined;
      wait?.catch(() => undefined); // a failed send rejects it; the throw below reports that
      this.channel.send(request, ack ? P.VHOST_USER_FLAG_NEED_REPLY : 0, payload, fds);
      if (!wait) return { request, flags: 0, size: 0, payload: new Uint8Array(0), fds: [] };
      const reply = await wait;
      if (ack) {
        const v = P.decodeU64(reply.payload, `${P.reqName(request)} ack`);
        if (v !== 0n) throw new VhostRequestFailedError(`${this.name}: back-end refused ${P.reqName(request)} (status ${v})`);
      }
      return reply;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private awaitReply(request: number): Promise<VhostMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new VhostTimeoutError(`${this.name}: no reply to ${P.reqName(request)} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending = { request, resolve, reject, timer };
    });
  }

  private message(m: VhostMessage): void {
    const p = this.pending;
    for (const f of m.fds) safeClose(nativeUnix(), f);
    if (!p || !(m.flags & P.VHOST_USER_FLAG_REPLY) || m.request !== p.request || m.fds.length > 0) {
      const what = !(m.flags & P.VHOST_USER_FLAG_REPLY) ? 'request' : p ? 'reply to the wrong request' : 'unsolicited reply';
      this.fail(new P.VhostProtocolError(`${this.name}: unexpected ${what} ${P.reqName(m.request)} from the back-end`));
      return;
    }
    clearTimeout(p.timer);
    this.pending = undefined;
    p.resolve(m);
  }

  /** End the connection because of `e`; returns e for `throw this.fail(...)`. */
  private fail(e: Error): Error {
    this.channel.close(e);
    return e;
  }

  private closed(reason: Error | undefined): void {
    const p = this.pending;
    this.pending = undefined;
    if (this._state === 'connected') {
      this._state = 'failed';
      this.failure = reason ?? new VhostFrontendClosedError(`${this.name}: connection closed`);
    }
    if (p) {
      clearTimeout(p.timer);
      p.reject(this.failure ?? new VhostFrontendClosedError(`${this.name}: connection closed`));
    }
    if (this._state === 'failed') for (const cb of this.listeners.splice(0)) cb(this.failure!);
  }
}
