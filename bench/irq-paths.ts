// Interrupts per second and device-to-handler latency for the irq-lab device on each path,
// against raw KVM_IRQFD injection into the same guest measured in the same run:
//   raw       the bench writes the vector's irqfd-bound eventfd itself (no device process)
//   irqfd     the irq-lab device process writes that eventfd (KVM injects, VMM not involved)
//   fallback  no GSI route left: the VMM reads the eventfd and injects with KVM_SIGNAL_MSI
//   userspace the VMM raises the vector itself (an in-process model: MSI-X -> group.trigger)
// Each path is driven ping-pong (one interrupt in flight), see measure().
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

/**
 * Ping-pong: raise one interrupt, wait until the guest's handler has ACKed it (the ACK is
 * an MMIO write the host thread sees at once), raise the next. Interrupts per second is
 * then the end-to-end delivery rate of the path, and the device's fire->ACK histogram
 * (device paths only) has exactly one sample per interrupt. A saturating raiser would
 * instead measure how much CPU it steals from the vCPU on a 2-core machine.
 */
async function measure(path: string, dev: IrqLabDevice, seconds: number, raise: () => void): Promise<PathResult> {
  const before = (await dev.queryStats()).buckets.slice();
  const t0 = performance.now();
  let n = 0;
  let lost = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const acked = dev.regs.ackedCount;
    raise();
    const deadline = performance.now() + 1000;
    while (dev.regs.ackedCount === acked && performance.now() < deadline) await new Promise<void>((r) => setImmediate(r));
    if (dev.regs.ackedCount === acked) lost++;
    else n++;
  }
  const secs = (performance.now() - t0) / 1000;
  if (lost) throw new Error(`${path}: ${lost} interrupts were never handled within 1 s`);
  const buckets = (await dev.queryStats()).buckets.map((b, i) => b - (before[i] ?? 0));
  return { path, raisesPerSec: n / secs, handledPerSec: n / secs, p50Us: percentile(buckets, 0.5), p99Us: percentile(buckets, 0.99) };
}

export async function irqPathsBench(seconds = 2): Promise<PathResult[]> {
  const results: PathResult[] = [];
  // raw and irqfd share one VM so they hit the same guest, vector, route and irqfd.
  await withServingGuest(seconds, undefined, async (_m, dev) => {
    const fd = dev.msixGroup.notifierFd(0);
    const one = new BigUint64Array([1n]);
    const n = nativeKvm();
    results.push(await measure('raw', dev, seconds, () => n.write(fd, one)));
    results.push(await measure('irqfd', dev, seconds, () => dev.fireFromHost(0)));
    results.push(await measure('userspace', dev, seconds, () => dev.msixGroup.trigger(0)));
  });
  await withServingGuest(seconds, KERNEL_FIXED_ROUTES, async (_m, dev) => {
    const path = dev.msixGroup.stats()[0]!.path;
    if (path !== 'fallback') throw new Error(`expected vector 0 on the fallback path, it is on ${path}`);
    results.push(await measure('fallback', dev, seconds, () => dev.fireFromHost(0)));
  });
  return results;
}
