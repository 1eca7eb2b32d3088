// Browser mode's server on a random port with a stand-in service: static files with the
// CSP and no traversal, the WebSocket refused without the token or from a foreign origin,
// requests answered, events broadcast to every page, garbage frames answered and counted.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createVmmApi } from '../core/api/client.js';
import { Channels, Events, type EventChannel, type Reply } from '../core/api/contract.js';
import { decodeFrame, encodeFrame } from '../core/api/wire.js';
import { CONNECTION_LOST, createWebTransport, type SocketLike } from '../core/api/ws-client.js';
import { startWebServer, type WebServer } from './server.js';

let root: string;
let server: WebServer;
let sinks: ((ch: EventChannel, p: unknown) => void)[];
const dispatch = vi.fn(async (channel: string, args: unknown[]): Promise<Reply<unknown>> => {
  if (channel === Channels.consoleBacklog) return { ok: true, value: new Uint8Array([1, 2, 3]) };
  if (channel === Channels.importImage) return { ok: true, value: { size: (args[0] as { data: Uint8Array }).data.length } };
  return { ok: false, error: { name: 'VmNotFoundError', message: `no ${String(args[0])}` } };
});
const emit = (ch: EventChannel, p: unknown) => sinks.forEach((s) => s(ch, p));

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'irqbench-web-'));
  await mkdir(join(root, 'renderer', 'assets'), { recursive: true });
  await writeFile(join(root, 'renderer', 'index.html'), '<!doctype html><title>irqbench</title>');
  await writeFile(join(root, 'renderer', 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(root, 'secret.txt'), 'secret');
  sinks = [];
  dispatch.mockClear();
  server = await startWebServer({
    rendererDir: join(root, 'renderer'),
    port: 0,
    service: { dispatch, subscribe: (s) => (sinks.push(s), () => (sinks = sinks.filter((x) => x !== s))) },
  });
});
afterEach(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

const wsUrl = (token = server.token) => `${server.origin.replace('http', 'ws')}/api?token=${encodeURIComponent(token)}`;

function connect(url = wsUrl(), origin = server.origin): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function nextFrame(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve(decodeFrame(isBinary ? new Uint8Array(data as Buffer) : data.toString()))));
}

describe('web server', () => {
  it('prints a 127.0.0.1 URL with a long random token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{40,}$/);
  });

  it('serves the renderer with the CSP and refuses to leave its folder', async () => {
    const page = await fetch(server.origin + '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<title>irqbench</title>');
    const js = await fetch(server.origin + '/assets/app.js');
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/assets/%00.js', '/nope.js']) {
      const res = await fetch(server.origin + path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain('secret');
    }
    expect((await fetch(server.origin + '/vm/1')).status).toBe(200); // client-side route → index.html
    expect((await fetch(server.origin + '/', { method: 'POST' })).status).toBe(405);
  });

  it('refuses WebSockets without the token, with a wrong one, from a foreign origin or elsewhere', async () => {
    await expect(connect(wsUrl('wrong'))).rejects.toThrow('HTTP 403');
    await expect(connect(wsUrl(server.token.slice(1)))).rejects.toThrow('HTTP 403');
    await expect(connect(`${server.origin.replace('http', 'ws')}/api`)).rejects.toThrow('HTTP 403');
    await expect(connect(wsUrl(), 'http://evil.example')).rejects.toThrow('HTTP 403');
    await expect(connect(wsUrl().replace('/api', '/other'))).rejects.toThrow('HTTP 404');
    expect(server.bridge.counters.refused).toBe(5);
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('answers requests and broadcasts events to every page', async () => {
    const a = await connect();
    const b = await connect(wsUrl(), server.origin.replace('127.0.0.1', 'localhost'));
    a.send(encodeFrame({ t: 'req', id: 7, ch: Channels.consoleBacklog, args: ['vm-1'] }));
    expect(await nextFrame(a)).toEqual({ t: 'rep', id: 7, reply: { ok: true, value: new Uint8Array([1, 2, 3]) } });
    expect(dispatch).toHaveBeenCalledWith(Channels.consoleBacklog, ['vm-1']);
    const got = [nextFrame(a), nextFrame(b)];
    emit(Events.console, { id: 'vm-1', data: new Uint8Array([104, 105]) });
    for (const f of await Promise.all(got)) expect(f).toEqual({ t: 'ev', ch: Events.console, payload: { id: 'vm-1', data: new Uint8Array([104, 105]) } });
    a.close();
    b.close();
  });

  it('answers garbage frames with an error and counts them', async () => {
    const ws = await connect();
    for (const junk of ['not json', '{"t":"req","id":1}', '{"t":"req","id":2,"ch":"x","args":"no"}', '[1,2]', '{"$bytes":5}']) {
      ws.send(junk);
      const f = await nextFrame(ws);
      expect(f).toMatchObject({ t: 'rep', reply: { ok: false, error: { name: 'BadFrameError' } } });
    }
    ws.send(new Uint8Array([1, 2]));
    expect(await nextFrame(ws)).toMatchObject({ reply: { ok: false } });
    expect(server.bridge.counters.badFrames).toBe(6);
    ws.send(encodeFrame({ t: 'req', id: 3, ch: Channels.stopVm, args: ['vm-9'] }));
    expect(await nextFrame(ws)).toEqual({ t: 'rep', id: 3, reply: { ok: false, error: { name: 'VmNotFoundError', message: 'no vm-9' } } });
    ws.close();
  });

  it('carries the whole VmmApi through the browser transport, large uploads included', async () => {
    const open = (url: string) => new WebSocket(url, { origin: server.origin }) as unknown as SocketLike;
    const api = createVmmApi(createWebTransport(`${server.origin.replace('http', 'ws')}/api`, server.token, open));
    expect(api.mode).toBe('web');
    await expect(api.consoleBacklog('vm-1')).resolves.toEqual(new Uint8Array([1, 2, 3]));
    await expect(api.stopVm('vm-2')).rejects.toMatchObject({ name: 'VmNotFoundError', message: 'no vm-2' });
    const big = new Uint8Array(3 * 1024 * 1024).fill(7);
    await expect(api.importImage({ kind: 'bytes', name: 'big.img', data: big })).resolves.toEqual({ size: big.length });
    const states: unknown[] = [];
    api.onVmState((e) => states.push(e));
    emit(Events.vmState, { id: 'vm-1', state: 'running' });
    await vi.waitFor(() => expect(states).toEqual([{ id: 'vm-1', state: 'running' }]));
    // The server going away fails what is pending and what comes after.
    dispatch.mockImplementationOnce(() => new Promise(() => undefined));
    const hanging = api.listVms();
    while (!dispatch.mock.calls.some(([ch]) => ch === Channels.listVms)) await new Promise((r) => setTimeout(r, 10));
    const lost = expect(hanging).rejects.toThrow(CONNECTION_LOST);
    await server.close();
    await lost;
    await expect(api.listVms()).rejects.toThrow(CONNECTION_LOST);
  });
});
