// Load harness for the live interrupt views (run.mjs builds and drives it in Chromium): one
// view mounted against a fake VmmApi fed by stream-worker.ts, plus a frame-interval and
// long-task recorder the runner reads back. Not part of the app bundle.
import { createPinia } from 'pinia';
import { createApp, h } from 'vue';
import type { StatsEvent, VmmApi } from '../../../../../core/api/contract.js';
import '../../../style.css';
import DashboardView from '../DashboardView.vue';
import DevicesView from '../DevicesView.vue';
import { machineStats, msixEntry, irqRow } from '../testing/fixtures.js';
import { setApi } from '../testing/mock-vmm.js';

const VECTORS = 2048;
const listeners = new Set<(e: StatsEvent) => void>();
const worker = new Worker(new URL('./stream-worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (ev: MessageEvent<string>) => {
  const e = JSON.parse(ev.data) as StatsEvent;
  listeners.forEach((cb) => cb(e));
};

const stats = machineStats(Date.now() - 1000);
stats.pci = [{ name: 'irq-lab0', bdf: '00:03.0', state: 'running', device: {}, irqs: Array.from({ length: VECTORS }, (_, v) => irqRow(`v${v}`, { gsi: 24 + v })) }];
const api: Partial<VmmApi> = {
  mode: 'web',
  statsSnapshot: async () => ({ stats, counters: {}, rates: {} }),
  onStats: (cb) => {
    listeners.add(cb);
    return () => void listeners.delete(cb);
  },
  msixTable: async (_id, device, first = 0, count = VECTORS) => ({
    device, bdf: '00:03.0', enabled: true, functionMasked: false, vectors: VECTORS, tableBar: 1, tableOffset: 0, pbaBar: 1,
    pbaOffset: 0x8000, first, canFire: true,
    entries: Array.from({ length: Math.max(0, Math.min(count, VECTORS - first)) }, (_, i) => msixEntry(first + i)),
  }),
};
setApi(api as VmmApi);

const frames: number[] = [];
const longTasks: { start: number; duration: number }[] = [];
let last = performance.now();
const loop = (now: number) => {
  frames.push(now - last);
  last = now;
  requestAnimationFrame(loop);
};
requestAnimationFrame(loop);
new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push({ start: e.startTime, duration: e.duration }))).observe({ type: 'longtask', buffered: true });
Object.assign(window, { benchFrames: () => ({ frames: frames.slice(), longTasks: longTasks.slice(), now: performance.now() }) });

// "idle": the same stream parsed with nothing rendered, the baseline of this machine's noise.
const which = new URLSearchParams(location.search).get('view');
const view = which === 'devices' ? DevicesView : which === 'idle' ? null : DashboardView;
createApp({ render: () => (view ? h(view, { vmId: 'vm1' }) : h('p', 'idle')) }).use(createPinia()).mount('#app');
