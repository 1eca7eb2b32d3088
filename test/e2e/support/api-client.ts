// A Node client of browser mode's API, for tests and benchmarks that need to read what the
// page shows (statistics) or set a scene up without clicking: the same WebSocket, token and
// frames as the page (core/api/wire.ts), wrapped in the same createVmmApi.
import WebSocket from 'ws';
import { createVmmApi, type VmmTransport } from '../../../core/api/client.js';
import type { EventChannel, Reply, VmmApi } from '../../../core/api/contract.js';
import { decodeFrame, encodeFrame } from '../../../core/api/wire.js';

export async function connectApi(pageUrl: string): Promise<{ api: VmmApi; close(): void }> {
  const page = new URL(pageUrl);
  const token = page.searchParams.get('token') ?? '';
  const ws = new WebSocket(`ws://${page.host}/api?token=${encodeURIComponent(token)}`, { origin: page.origin });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, (r: Reply<unknown>) => void>();
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const frame = decodeFrame(isBinary ? new Uint8Array(data) : data.toString()) as { t: string; id?: number; reply?: Reply<unknown>; ch?: string; payload?: unknown };
    if (frame.t === 'rep' && frame.id !== undefined) {
      pending.get(frame.id)?.(frame.reply!);
      pending.delete(frame.id);
    } else if (frame.t === 'ev' && frame.ch) listeners.get(frame.ch)?.forEach((cb) => cb(frame.payload));
  });
  const transport: VmmTransport = {
    mode: 'web',
    invoke: (ch, args) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        ws.send(encodeFrame({ t: 'req', id, ch, args }));
      }),
    subscribe(ch: EventChannel, cb) {
      let set = listeners.get(ch);
      if (!set) listeners.set(ch, (set = new Set()));
      set.add(cb);
      return () => set.delete(cb);
    },
  };
  return { api: createVmmApi(transport), close: () => ws.close() };
}
