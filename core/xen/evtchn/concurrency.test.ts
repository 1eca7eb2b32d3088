// Concurrency: sender workers deliver through the fast path (EvtchnDelivery.attach on the
// host's SharedArrayBuffers) while a consumer worker drains as the guest's vCPU0 would and
// the host thread changes priorities (FIFO) underneath. Exact check per port: the number of
// sends that turned PENDING 0→1 equals the number of events the guest handled, with no
// port left pending and no FIFO event dropped.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EVTCHNOP as OP } from './dispatch.js';
import { DOMID_SELF } from './ops.js';
import { ARRAY_GPA, CB_GPA, makeFixture, SHINFO_GPA, type Fixture } from './testing/fixture.js';
import type { StressInit } from './testing/stress-worker.js';

function spawn(init: StressInit): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./testing/stress-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}
const once = (w: Worker, msg: string): Promise<void> =>
  new Promise((resolve, reject) => {
    w.on('message', (m) => m === msg && resolve());
    w.once('error', reject);
  });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(abi: 'fifo' | '2l'): Promise<void> {
  const f: Fixture = makeFixture({ nrVcpus: 2 });
  f.ec.setSharedInfo(SHINFO_GPA, true);
  if (abi === 'fifo') {
    expect(f.op(OP.init_control, [[0, 8, BigInt(CB_GPA / 4096)], [8, 4, 0], [12, 4, 0]])).toBe(0);
    expect(f.op(OP.expand_array, [[0, 8, BigInt(ARRAY_GPA / 4096)]])).toBe(0);
  }
  // 24 IPI ports on vCPU0 and 8 loopback pairs (sends on one end raise the other).
  const sendPorts: number[] = [];
  const targets: number[] = [];
  for (let i = 0; i < 24; i++) {
    sendPorts.push(f.ec.ops.bindIpi(0));
    targets.push(sendPorts[i]!);
  }
  for (let i = 0; i < 8; i++) {
    const r = f.ec.ops.allocUnbound(DOMID_SELF, DOMID_SELF);
    const l = f.ec.ops.bindInterdomain(DOMID_SELF, r);
    f.ec.delivery.clearPending(l);
    sendPorts.push(l);
    targets.push(r);
  }
  const cap = 64;
  const ctl = new SharedArrayBuffer(16);
  const sent = new SharedArrayBuffer(cap * 4);
  const handled = new SharedArrayBuffer(cap * 4);
  const base = {
    abi,
    bufs: f.ec.buffers(),
    ram: f.mem.buffer,
    layout: f.mem.layout,
    ctl,
    ports: sendPorts,
    targets,
    iterations: 20000,
    shinfoOff: SHINFO_GPA,
    cbOff: CB_GPA,
    pageOffs: [ARRAY_GPA],
  };
  const consumer = spawn({ ...base, role: 'consumer', counts: handled, seed: 0 });
  await once(consumer, 'ready');
  const senders = [1, 2, 3].map((seed) => spawn({ ...base, role: 'sender', counts: sent, seed: seed * 7919 }));
  const done = Promise.all(senders.map((w) => once(w, 'done')));
  let finished = false;
  void done.then(() => (finished = true));
  // Host thread: move ports between priority queues while events fly (FIFO).
  let moves = 0;
  while (!finished) {
    if (abi === 'fifo') {
      const p = sendPorts[moves % sendPorts.length]!;
      expect(f.ec.ops.setPriority(p, (moves * 5) % 16)).toBe(0);
      moves++;
    }
    await sleep(1);
  }
  await done;
  const s = new Int32Array(sent);
  const h = new Int32Array(handled);
  const deadline = Date.now() + 10_000;
  const equal = (): boolean => s.every((n, i) => Atomics.load(h, i) === n);
  while (!equal() && Date.now() < deadline) await sleep(20);
  Atomics.store(new Int32Array(ctl), 1, 1);
  Atomics.notify(new Int32Array(ctl), 0);
  await once(consumer, 'stopped');
  await Promise.all([consumer, ...senders].map((w) => w.terminate()));

  const total = s.reduce((a, b) => a + b, 0);
  expect(Array.from(h)).toEqual(Array.from(s)); // nothing lost, nothing duplicated
  expect(total).toBeGreaterThan(1000);
  expect(total).toBeLessThan(60000); // some sends coalesced with still-pending events
  expect(new Int32Array(ctl)[2]).toBe(0); // no dropped sends
  for (let p = 1; p < cap; p++) expect(f.ec.delivery.isPending(p)).toBe(false);
  const snap = f.ec.snapshot();
  expect(snap.fifoLostEvents).toBe(0);
  expect(snap.fifoLinkFailures).toBe(0);
  const deliveredAndCoalesced = snap.ports.reduce((a, p) => a + p.deliveries + p.coalesced, 0);
  expect(deliveredAndCoalesced).toBe(60000 + 8); // + the 8 loopback binds (local end set pending)
  if (abi === 'fifo') expect(moves).toBeGreaterThan(0);
}

describe('event channels under concurrent senders and a consuming guest vCPU', () => {
  it('FIFO: no event lost or duplicated while priorities change', { timeout: 60_000 }, async () => {
    await run('fifo');
  });
  it('2-level: no event lost or duplicated', { timeout: 60_000 }, async () => {
    await run('2l');
  });
});
