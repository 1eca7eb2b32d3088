// Browser-mode transport for the contract's VmmApi: requests and events over one WebSocket
// to web/server.ts. Frames are JSON with the wire codec ({t:'req',id,ch,args} →
// {t:'rep',id,reply}; {t:'ev',ch,payload} pushed by the server). Browser-only (the global
// WebSocket), no Node imports. When the socket closes every pending request rejects: the
// page has lost its VMM and must reload (the server prints a new URL when restarted).
import type { VmmTransport } from './client.js';
import type { EventChannel, Reply, RequestChannel } from './contract.js';
import { decodeFrame, encodeFrame } from './wire.js';

export const CONNECTION_LOST = 'the connection to irqbench was lost; reload the page';

/** The WebSocket surface the transport uses (the browser's, or a stand-in in tests). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

const OPEN = 1;

interface Pending {
  resolve(reply: Reply<unknown>): void;
  reject(error: Error): void;
}

export function createWebTransport(url: string, token: string, open: (url: string) => SocketLike = (u) => new WebSocket(u) as unknown as SocketLike): VmmTransport {
  const target = new URL(url);
  target.searchParams.set('token', token);
  const socket = open(target.href);
  if ('binaryType' in socket) (socket as { binaryType: string }).binaryType = 'arraybuffer';
  const pending = new Map<number, Pending>();
  const listeners = new Map<EventChannel, Set<(payload: unknown) => void>>();
  let nextId = 1;
  let closed = false;
  let queue: (string | Uint8Array)[] = [];

  const ready = new Promise<void>((resolve) => socket.addEventListener('open', () => resolve()));
  void ready.then(() => {
    for (const frame of queue) socket.send(frame);
    queue = [];
  });

  const lost = () => {
    if (closed) return;
    closed = true;
    for (const p of pending.values()) p.reject(new Error(CONNECTION_LOST));
    pending.clear();
  };
  socket.addEventListener('close', lost);
  socket.addEventListener('error', lost);
  socket.addEventListener('message', (event) => {
    let frame: { t?: unknown; id?: unknown; reply?: unknown; ch?: unknown; payload?: unknown };
    try {
      const data = event.data;
      frame = decodeFrame(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer)) as typeof frame;
    } catch {
      return; // not ours to interpret; the server never sends this
    }
    if (frame?.t === 'rep' && typeof frame.id === 'number') {
      const p = pending.get(frame.id);
      if (!p) return;
      pending.delete(frame.id);
      p.resolve(frame.reply as Reply<unknown>);
    } else if (frame?.t === 'ev' && typeof frame.ch === 'string') {
      for (const cb of listeners.get(frame.ch as EventChannel) ?? []) cb(frame.payload);
    }
  });

  return {
    mode: 'web',
    invoke(channel: RequestChannel, args: unknown[]) {
      if (closed) return Promise.reject(new Error(CONNECTION_LOST));
      const id = nextId++;
      const frame = encodeFrame({ t: 'req', id, ch: channel, args });
      return new Promise<Reply<unknown>>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        if (socket.readyState === OPEN) socket.send(frame);
        else queue.push(frame);
      });
    },
    subscribe(channel, cb) {
      let set = listeners.get(channel);
      if (!set) listeners.set(channel, (set = new Set()));
      set.add(cb);
      return () => void set.delete(cb);
    },
  };
}
