// Browser mode end to end without a browser: the web server with the real app service and
// child-process VM hosts (out/node, `npm run build:node`), a `ws` client speaking the
// bridge's frames. It starts the built-in demo VM (the hello lab guest), reads its console
// text from the event stream, asks for live views while it runs, and sees its exit state.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Channels, Events, type Reply, type VmStateEvent } from '../../core/api/contract.js';
import { decodeFrame, encodeFrame } from '../../core/api/wire.js';
import { packageRoot } from '../../core/paths.js';
import { labGuestPath } from '../../core/profiles/demo.js';
import { hostEntry, nodeForkHost } from '../../core/service/fork-node.js';
import { AppService } from '../../core/service/service.js';
import { startWebServer, type WebServer } from '../../web/server.js';
import { hasKvm } from '../support/guests.js';

const skip = !hasKvm
  ? '/dev/kvm is absent'
  : !existsSync(hostEntry())
    ? `${hostEntry()} is missing (npm run build:node)`
    : !existsSync(labGuestPath('hello')) || !existsSync(labGuestPath('serial'))
      ? 'the lab guests are not built (npm run build:guests)'
      : undefined;
if (skip) console.log(`SKIP web-bridge: ${skip}`);

describe.skipIf(skip !== undefined)('browser bridge with real VM hosts', () => {
  let dir: string;
  let service: AppService;
  let server: WebServer;
  let ws: WebSocket;
  const events: { ch: string; payload: any }[] = [];
  const waiting = new Map<number, (r: Reply<any>) => void>();
  let nextId = 1;

  const request = (ch: string, ...args: unknown[]) =>
    new Promise<Reply<any>>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      ws.send(encodeFrame({ t: 'req', id, ch, args }));
    });
  const until = async (what: string, check: () => boolean, ms = 30_000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const consoleText = (id: string) =>
    events
      .filter((e) => e.ch === Events.console && e.payload.id === id)
      .map((e) => new TextDecoder().decode(e.payload.data))
      .join('');
  const states = (id: string) => events.filter((e) => e.ch === Events.vmState && e.payload.id === id).map((e) => e.payload as VmStateEvent);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'irqbench-web-bridge-'));
    service = await AppService.create({ configDir: dir, forkHost: nodeForkHost() });
    server = await startWebServer({ service, rendererDir: join(packageRoot(), 'out', 'renderer'), port: 0 });
    ws = new WebSocket(`${server.origin.replace('http', 'ws')}/api?token=${server.token}`, { origin: server.origin });
    ws.on('message', (data, isBinary) => {
      const frame = decodeFrame(isBinary ? new Uint8Array(data as Buffer) : data.toString()) as any;
      if (frame.t === 'rep') waiting.get(frame.id)?.(frame.reply);
      else if (frame.t === 'ev') events.push({ ch: frame.ch, payload: frame.payload });
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  });

  afterAll(async () => {
    ws?.close();
    await service?.shutdown();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the demo VM: console text, live views and its exit state reach the page', async () => {
    const demo = await request(Channels.getDemoProfile);
    expect(demo).toMatchObject({ ok: true, value: { name: 'Interrupt Lab: hello', source: 'builtin' } });
    const started = await request(Channels.startVm, demo.ok && demo.value.name);
    expect(started).toMatchObject({ ok: true, value: { id: expect.stringMatching(/^vm-\d+$/) } });
    const id: string = started.ok && started.value.id;

    await until('the console', () => consoleText(id).includes('LAB-DONE hello'));
    expect(consoleText(id)).toMatch(/LAB-DONE hello pass=\d+ fail=0/);
    await until('the exit state', () => states(id).some((s) => s.state === 'exited'));
    expect(states(id)[0]).toEqual({ id, state: 'starting' });
    expect(states(id).at(-1)).toMatchObject({ id, state: 'exited', exit: { status: 0, reason: expect.stringContaining('debug-exit') } });

    // What the page can still ask about an ended VM.
    const vms = await request(Channels.listVms);
    expect(vms).toMatchObject({ ok: true, value: [{ id, profile: 'Interrupt Lab: hello', state: 'exited' }] });
    const backlog = await request(Channels.consoleBacklog, id);
    expect(backlog.ok && new TextDecoder().decode(backlog.value)).toContain('LAB-DONE hello');
    expect(await request(Channels.routingTable, id)).toMatchObject({ ok: false, error: { name: 'VmStateError' } });
  });

  it('carries console input and live views to a running VM (the serial guest waits for "ping")', async () => {
    const started = await request(Channels.startVm, 'Interrupt Lab: serial');
    expect(started).toMatchObject({ ok: true });
    const id: string = started.ok && started.value.id;
    await until('the guest asking for input', () => consoleText(id).includes('LAB-READY serial-rx'));

    const routing = await request(Channels.routingTable, id);
    expect(routing).toMatchObject({ ok: true, value: { entries: expect.arrayContaining([expect.objectContaining({ kind: 'irqchip' })]) } });
    const snap = await request(Channels.statsSnapshot, id);
    expect(snap.ok && Object.keys(snap.value.counters)).toContain('vcpu0.exits');
    expect(await request(Channels.xenPorts, id)).toMatchObject({ ok: false, error: { message: expect.stringContaining('not a Xen VM') } });
    expect(await request(Channels.pauseVm, id)).toEqual({ ok: true });
    expect(await request(Channels.resumeVm, id)).toEqual({ ok: true });

    expect(await request(Channels.sendConsole, id, 'ping\n')).toEqual({ ok: true });
    await until('the exit state', () => states(id).some((s) => s.state === 'exited' || s.state === 'failed'));
    expect(consoleText(id)).toMatch(/LAB-DONE serial pass=\d+ fail=0/);
    expect(states(id).map((s) => s.state)).toEqual(expect.arrayContaining(['starting', 'running', 'paused', 'exited']));
    expect(events.some((e) => e.ch === Events.stats && e.payload.id === id && e.payload.msg.kind === 'snapshot')).toBe(true);
  });
});
