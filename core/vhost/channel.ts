// One vhost-user connection: frames messages (header + payload + SCM_RIGHTS fds) over a
// non-blocking AF_UNIX stream socket. Reads are driven by the addon's epoll watcher; each
// recvmsg asks for exactly the rest of the current header or payload, so fds that arrive
// belong to the message being read (senders attach them to a message's first byte).
// Anything malformed closes the connection; `onClose` then gets the reason (undefined for
// a clean close by us, a VhostDisconnectError for EOF). Received fds are owned by the
// message handler; fds of a message that is never delivered are closed here.
import { VmmError } from '../errors.js';
import { nativeUnix, EAGAIN, type Native } from './native.js';
import { HEADER_SIZE, MAX_FDS_PER_MESSAGE, VhostProtocolError, decodeHeader, encodeMessage, reqName, type Header } from './protocol.js';

export class VhostDisconnectError extends VmmError {}
export class VhostChannelClosedError extends VmmError {}

export interface VhostMessage extends Header {
  payload: Uint8Array;
  fds: number[];
}

export interface ChannelHandlers {
  onMessage(msg: VhostMessage): void;
  onClose(reason: Error | undefined): void;
}

export class VhostChannel {
  private readonly n: Native = nativeUnix();
  private watch = -1;
  private header = new Uint8Array(HEADER_SIZE);
  private current: Header | undefined;
  private payload = new Uint8Array(0);
  private got = 0;
  private fds: number[] = [];
  private closed = false;

  /** Takes ownership of `fd` (a connected AF_UNIX stream socket). */
  constructor(
    readonly fd: number,
    private readonly handlers: ChannelHandlers,
    readonly name = 'vhost-user',
  ) {
    this.n.unixSetNonBlocking(fd, true);
    this.watch = this.n.unixWatchReadable(fd, () => this.readable(), true);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Send one message; fds travel with its first byte. */
  send(request: number, flags: number, payload?: Uint8Array, fds: number[] = []): void {
    if (this.closed) throw new VhostChannelClosedError(`${this.name}: connection is closed`);
    const bytes = encodeMessage(request, flags, payload);
    let r: number;
    try {
      r = this.n.unixSendMsg(this.fd, bytes, fds);
    } catch (cause) {
      const err = new VhostDisconnectError(`${this.name}: send ${reqName(request)} failed`, { cause });
      this.close(err);
      throw err;
    }
    if (r !== bytes.length) {
      // A peer that lets a 4 KiB socket buffer fill up with control messages is not reading.
      const err = new VhostProtocolError(`${this.name}: peer is not reading (sent ${r < 0 ? 0 : r} of ${bytes.length} bytes)`);
      this.close(err);
      throw err;
    }
  }

  /**
   * Read and deliver whatever is already queued on the socket, now, instead of waiting for
   * the readiness callback. For ordering against another event source: a device that learns
   * of an event on an eventfd first takes in every message the peer sent before it.
   */
  pump(): void {
    if (!this.closed) this.readable();
  }

  /** Close the connection; `reason` goes to onClose (undefined = normal close). */
  close(reason?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.n.unixUnwatch(this.watch);
    for (const f of this.fds) safeClose(this.n, f);
    this.fds = [];
    safeClose(this.n, this.fd);
    this.handlers.onClose(reason);
  }

  private readable(): void {
    try {
      while (!this.closed && this.readSome()) {
        // keep reading until EAGAIN
      }
    } catch (e) {
      this.close(e instanceof Error ? e : new VhostProtocolError(String(e)));
    }
  }

  /** One recvmsg; false when the socket is drained (or closed). */
  private readSome(): boolean {
    const target = this.current ? this.payload.subarray(this.got) : this.header.subarray(this.got);
    if (target.length === 0) return this.complete();
    const r = this.n.unixRecvMsg(this.fd, target);
    for (const f of r.fds) this.fds.push(f);
    if (r.truncated) throw new VhostProtocolError(`${this.name}: peer sent too many fds`);
    if (this.fds.length > MAX_FDS_PER_MESSAGE) throw new VhostProtocolError(`${this.name}: ${this.fds.length} fds with one message (max ${MAX_FDS_PER_MESSAGE})`);
    if (r.bytes === -EAGAIN) return false;
    if (r.bytes === 0) {
      const mid = this.got > 0 || this.current !== undefined;
      this.close(new VhostDisconnectError(`${this.name}: peer closed the connection${mid ? ' mid-message' : ''}`));
      return false;
    }
    this.got += r.bytes;
    return r.bytes === target.length ? this.complete() : true;
  }

  /** The header or payload in progress is complete: parse or deliver. */
  private complete(): boolean {
    if (!this.current) {
      if (this.got < HEADER_SIZE) return true;
      this.current = decodeHeader(this.header);
      this.payload = new Uint8Array(this.current.size);
      this.got = 0;
      if (this.current.size > 0) return true;
    } else if (this.got < this.payload.length) {
      return true;
    }
    const msg: VhostMessage = { ...this.current, payload: this.payload, fds: this.fds };
    this.current = undefined;
    this.got = 0;
    this.fds = [];
    this.header = new Uint8Array(HEADER_SIZE);
    this.handlers.onMessage(msg);
    return !this.closed;
  }
}

export function safeClose(n: Native, fd: number): void {
  try {
    n.close(fd);
  } catch {
    // already gone; nothing to release
  }
}
