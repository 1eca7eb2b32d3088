// Stats stream of a VM firing 100k interrupts/s across 2048 MSI-X vectors, built off the main
// thread as the VMM would (deltas at 10 Hz, core/stats/stream.ts format) and posted as JSON
// text, so the page pays what the WebSocket bridge makes it pay: parse and apply.
export const VECTORS = 2048;
const HZ = 10;
const TOTAL_RATE = 100_000;
const VCPUS = 2;

const totals = new Float64Array(VECTORS);
const exits = new Float64Array(VCPUS);
const buckets = new Float64Array(90);
let seq = 1;
let t = Date.now();

function tick(): void {
  t += 1000 / HZ;
  const changes: Record<string, { value: number; rate: number }> = {};
  const mean = TOTAL_RATE / HZ / VECTORS;
  for (let v = 0; v < VECTORS; v++) {
    const add = Math.round(mean * (0.5 + Math.random()));
    totals[v]! += add;
    changes[`pci.irq-lab0.v${v}.total`] = { value: totals[v]!, rate: add * HZ };
    changes[`pci.irq-lab0.v${v}.injected`] = { value: totals[v]!, rate: add * HZ };
  }
  for (let c = 0; c < VCPUS; c++) {
    exits[c]! += 3000;
    changes[`vcpu${c}.exits`] = { value: exits[c]!, rate: 3000 * HZ };
  }
  for (let i = 0; i < 5; i++) {
    const b = 3 + Math.floor(Math.random() * 70);
    buckets[b]! += 100;
    changes[`pci.irq-lab0.latencyBuckets.${b}`] = { value: buckets[b]!, rate: 100 * HZ };
  }
  postMessage(JSON.stringify({ id: 'vm1', msg: { kind: 'delta', seq: seq++, t, dt: 1000 / HZ, changes } }));
}

setInterval(tick, 1000 / HZ);
