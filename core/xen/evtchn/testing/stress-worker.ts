// Worker for the concurrency test (concurrency.test.ts): either a *sender* that hammers
// EVTCHNOP_send through the fast path attached from the host's SharedArrayBuffers, counting
// every send whose pending bit went 0→1 (EV_NEW), or a *consumer* playing guest vCPU0: it
// waits for upcalls and drains with the Linux algorithms of guest-model.ts, counting every
// event it handles. Exactness: each handled event is one PENDING 1→0 transition observed
// by the consumer; each EV_NEW is one 0→1 transition by a sender. For tests only.
import { parentPort, workerData } from 'node:worker_threads';
import { GuestMemory } from '../../../memory/guest-memory.js';
import type { MemoryLayout } from '../../../memory/layout.js';
import { EvtchnDelivery } from '../delivery.js';
import { EV_DROPPED, EV_NEW } from '../outcome.js';
import { atomicViews, VI_UPCALL_PENDING } from '../shared-info.js';
import type { EvtchnBuffers } from '../types.js';
import { FifoGuest, TwoLevelGuest } from './guest-model.js';

export interface StressInit {
  role: 'sender' | 'consumer';
  abi: 'fifo' | '2l';
  bufs: EvtchnBuffers;
  ram: SharedArrayBuffer;
  layout: MemoryLayout;
  /** Int32: [0] upcall kicks for vCPU0, [1] stop flag, [2] dropped sends. */
  ctl: SharedArrayBuffer;
  /** Int32 per port: EV_NEW sends (senders) / handled events (consumer). */
  counts: SharedArrayBuffer;
  ports: number[];
  /** The port each send raises (itself for IPIs, the peer for loopback interdomain). */
  targets: number[];
  iterations: number;
  seed: number;
  shinfoOff: number;
  cbOff: number;
  pageOffs: number[];
}

const init = workerData as StressInit;
const ctl = new Int32Array(init.ctl);
const counts = new Int32Array(init.counts);
const mem = new GuestMemory(init.ram, 0, init.layout);

if (init.role === 'sender') {
  const d = EvtchnDelivery.attach(init.bufs, mem, {
    raise: (v) => {
      Atomics.add(ctl, v, 1);
      Atomics.notify(ctl, v);
    },
  });
  let x = init.seed >>> 0 || 1;
  for (let i = 0; i < init.iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const k = (x >>> 0) % init.ports.length;
    const o = d.sendOutcome(init.ports[k]!);
    if (o >= 0 && o & EV_NEW) Atomics.add(counts, init.targets[k]!, 1);
    if (o >= 0 && o & EV_DROPPED) Atomics.add(ctl, 2, 1);
  }
  parentPort!.postMessage('done');
} else {
  const v = atomicViews(init.ram);
  const fifo = new FifoGuest(v.i32, init.cbOff, init.pageOffs);
  const l2 = new TwoLevelGuest(v.u8, v.u64, init.shinfoOff, init.shinfoOff);
  const upcallIdx = init.shinfoOff + VI_UPCALL_PENDING; // vCPU0's default vcpu_info
  const handle = (port: number): void => {
    Atomics.add(counts, port, 1);
  };
  parentPort!.postMessage('ready');
  while (!Atomics.load(ctl, 1)) {
    const seen = Atomics.load(ctl, 0);
    if (Atomics.load(v.u8, upcallIdx)) {
      if (init.abi === '2l') l2.handleUpcall(handle);
      else {
        do {
          Atomics.store(v.u8, upcallIdx, 0);
          fifo.handleEvents(handle);
        } while (Atomics.load(v.u8, upcallIdx));
      }
      continue;
    }
    Atomics.wait(ctl, 0, seen, 100);
  }
  parentPort!.postMessage('stopped');
}
