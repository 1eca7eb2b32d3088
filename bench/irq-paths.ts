// Interrupts per second and device-to-handler latency for the irq-lab device on each path,
// against raw KVM_IRQFD injection into the same guest measured in the same run:
//   raw       the bench writes the vector's irqfd-bound eventfd itself (no device process)
//   irqfd     the irq-lab device process writes that eventfd (KVM injects, VMM not involved)
//   fallback  no GSI route left: the VMM reads the eventfd and injects with KVM_SIGNAL_MSI
//   userspace the VMM raises the vector itself (an in-process model: MSI-X -> group.trigger)
// "Handled" is what the guest's handler counted (it ACKs every interrupt); raises beyond it
// were coalesced by the LAPIC while the vector was already pending, which is architectural.
import { Machine } from '../core/machine/machine.js';
import { DEFAULT_DEVICES, type MachineConfig } from '../core/machine/config.js';
import { nativeKvm } from '../core/kvm/addon.js';
import type { IrqLabDevice } from '../core/irq-lab/device.js';
import { bucketLowerUs } from '../core/irq-lab/latency.js';
import { guestsDir } from '../core/paths.js';
import { join } from 'node:path';

export interface PathResult {
  path: string;
  raisesPerSec: number;
  handledPerSec: number;
  p50Us?: number;
  p99Us?: number;
}

const KERNEL_FIXED_ROUTES = 38; // the PC routes of the in-kernel irqchip (core/machine/irqchip.ts)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(buckets: number[], p: number): number | undefined {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!total) return undefined;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= total * p) return bucketLowerUs(i);
  }
  return undefined;
}

async function withServingGuest<T>(seconds: number, gsiRouteLimit: number | undefined, body: (m: Machine, dev: IrqLabDevice) => Promise<T>): Promise<T> {
  let out = '';
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const config: MachineConfig = {
    name: 'bench-irq', cpus: 1, memoryMiB: 64, irqchip: 'kernel',
    boot: { kind: 'auto', kernel: join(guestsDir(), 'irqlab-msix.elf'), cmdline: `serve_ms=${Math.ceil(seconds * 1000 * 3 + 5000)} ack=1` },
    devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), { type: 'irq-lab', msix: { vectors: 8, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x8000 } }],
    gsiRouteLimit,
  };
  const m = new Machine(config, {
    onLog: (l) => process.env.BENCH_DEBUG && console.error(`vmm: ${l}`),
    onConsole: (b) => {
      out += Buffer.from(b).toString('latin1');
      if (out.includes('LAB-READY irqlab-serve')) ready();
    },
  });
  await m.start();
  try {
    await Promise.race([isReady, m.result.then(() => Promise.reject(new Error(`guest ended before serving:\n${out}`)))]);
    return await body(m, m.pciDevices[0] as IrqLabDevice);
  } finally {
    await m.stop();
  }
}

/** Throughput phase (bursts for `seconds`), then a latency phase (spaced single raises). */
async function measure(path: string, dev: IrqLabDevice, seconds: number, raise: (n: number) => void, latencyRaise?: () => void): Promise<PathResult> {
  const s0 = await dev.queryStats();
  const t0 = performance.now();
  let raised = 0;
  while (performance.now() - t0 < seconds * 1000) {
    raise(2000);
    raised += 2000;
    // Commands are processed in order, so this reply paces the host to the device process.
    await dev.queryStats();
  }
  await sleep(50);
  const s1 = await dev.queryStats();
  const secs = (performance.now() - t0) / 1000;
  const result: PathResult = { path, raisesPerSec: raised / secs, handledPerSec: (s1.acked - s0.acked) / secs };
  if (latencyRaise) {
    // Ping-pong on another vector: one raise at a time, the next only after its ACK, so every
    // ACK pairs with exactly its own raise in the device's fire->ACK histogram.
    const before = (await dev.queryStats()).buckets.slice();
    for (let i = 0; i < 200; i++) {
      const acked = (await dev.queryStats()).acked;
      latencyRaise();
      const deadline = performance.now() + 1000;
      while ((await dev.queryStats()).acked === acked && performance.now() < deadline);
    }
    const buckets = (await dev.queryStats()).buckets.map((b, i) => b - (before[i] ?? 0));
    result.p50Us = percentile(buckets, 0.5);
    result.p99Us = percentile(buckets, 0.99);
  }
  return result;
}

export async function irqPathsBench(seconds = 2): Promise<PathResult[]> {
  const results: PathResult[] = [];
  // raw and irqfd share one VM so they hit the same guest, vector, route and irqfd.
  await withServingGuest(seconds, undefined, async (_m, dev) => {
    const fd = dev.msixGroup.notifierFd(0);
    const one = new BigUint64Array([1n]);
    const n = nativeKvm();
    results.push(await measure('raw', dev, seconds, (count) => {
      for (let i = 0; i < count; i++) n.write(fd, one);
    }));
    results.push(await measure('irqfd', dev, seconds, (count) => dev.fireFromHost(0, count), () => dev.fireFromHost(1)));
    results.push(await measure('userspace', dev, seconds, (count) => {
      for (let i = 0; i < count; i++) dev.msixGroup.trigger(0);
    }));
  });
  await withServingGuest(seconds, KERNEL_FIXED_ROUTES, async (_m, dev) => {
    const path = dev.msixGroup.stats()[0]!.path;
    if (path !== 'fallback') throw new Error(`expected vector 0 on the fallback path, it is on ${path}`);
    results.push(await measure('fallback', dev, seconds, (count) => dev.fireFromHost(0, count), () => dev.fireFromHost(1)));
  });
  return results;
}
