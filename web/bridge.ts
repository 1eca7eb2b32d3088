// The browser bridge: the contract's requests and events over a WebSocket at /api. A page
// must present the random token (compared in constant time) and come from our own origin,
// or the upgrade is refused before any frame is read. Frames: {t:'req',id,ch,args} →
// {t:'rep',id,reply}; events {t:'ev',ch,payload} go to every connected page. A bad frame
// gets an error reply and is counted; nothing a page sends can crash the server.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import { Events, MAX_UPLOAD_BYTES, type EventChannel, type Reply } from '../core/api/contract.js';
import { decodeFrame, encodeFrame } from '../core/api/wire.js';

export interface BridgeService {
  dispatch(channel: string, args: unknown[]): Promise<Reply<unknown>>;
  subscribe(sink: (channel: EventChannel, payload: unknown) => void): () => void;
}

/** Largest frame: an image of MAX_UPLOAD_BYTES in base64, plus the frame around it. */
export const MAX_FRAME_BYTES = Math.ceil(MAX_UPLOAD_BYTES / 3) * 4 + 64 * 1024;
/** A page that reads this far behind stops getting statistics until it catches up. */
const SLOW_CLIENT_BYTES = 8 * 1024 * 1024;

const RequestFrame = z.strictObject({
  t: z.literal('req'),
  id: z.number().int().min(0).max(2 ** 31),
  ch: z.string().min(1).max(64),
  args: z.array(z.unknown()).max(8),
});

export interface BridgeCounters {
  refused: number;
  badFrames: number;
  droppedEvents: number;
  requests: number;
}

export function sameSecret(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class Bridge {
  readonly counters: BridgeCounters = { refused: 0, badFrames: 0, droppedEvents: 0, requests: 0 };
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly unsubscribe: () => void;

  constructor(
    private readonly service: BridgeService,
    private readonly token: string,
    /** Origins a page of ours has ("http://127.0.0.1:PORT"); read per upgrade, the port is known late. */
    private readonly origins: () => string[],
    private readonly log: (m: string) => void = () => undefined,
  ) {
    this.wss.on('connection', (ws) => this.serve(ws));
    this.unsubscribe = service.subscribe((ch, payload) => this.broadcast(ch, payload));
  }

  get clients(): number {
    return this.wss.clients.size;
  }

  /** The HTTP server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, why: string) => {
      this.counters.refused++;
      this.log(`refused a WebSocket connection: ${why}`);
      socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/api') return refuse(404, `unknown path ${url.pathname.slice(0, 64)}`);
    if (!this.origins().includes(req.headers.origin ?? '')) return refuse(403, `foreign origin ${String(req.headers.origin).slice(0, 100)}`);
    if (!sameSecret(url.searchParams.get('token'), this.token)) return refuse(403, 'wrong or missing token');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  private serve(ws: WebSocket): void {
    ws.on('error', (e) => this.log(`WebSocket error: ${e.message}`));
    ws.on('message', (data: RawData, isBinary: boolean) => void this.onFrame(ws, data, isBinary));
  }

  private async onFrame(ws: WebSocket, data: RawData, isBinary: boolean): Promise<void> {
    let frame: z.output<typeof RequestFrame>;
    let id: unknown = null;
    try {
      const raw = toBytes(data);
      const decoded = decodeFrame(isBinary ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw)) as { id?: unknown };
      id = decoded?.id;
      frame = RequestFrame.parse(decoded);
    } catch {
      this.counters.badFrames++;
      const message = 'bad frame: expected {t:"req", id, ch, args} as JSON';
      this.send(ws, { t: 'rep', id: typeof id === 'number' ? id : null, reply: { ok: false, error: { name: 'BadFrameError', message } } });
      return;
    }
    this.counters.requests++;
    const reply = await this.service.dispatch(frame.ch, frame.args);
    this.send(ws, { t: 'rep', id: frame.id, reply });
  }

  private send(ws: WebSocket, frame: object): void {
    if (ws.readyState !== ws.OPEN) return;
    let data: string | Uint8Array;
    try {
      data = encodeFrame(frame);
    } catch (e) {
      this.log(`cannot encode a reply: ${(e as Error).message}`);
      return;
    }
    ws.send(data);
  }

  private broadcast(ch: EventChannel, payload: unknown): void {
    if (this.wss.clients.size === 0) return;
    const data = encodeFrame({ t: 'ev', ch, payload });
    for (const ws of this.wss.clients) {
      if (ws.readyState !== ws.OPEN) continue;
      if (ch === Events.stats && ws.bufferedAmount > SLOW_CLIENT_BYTES) {
        this.counters.droppedEvents++;
        continue;
      }
      ws.send(data);
    }
  }

  close(): void {
    this.unsubscribe();
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
