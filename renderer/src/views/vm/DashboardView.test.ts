// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import DashboardView from './DashboardView.vue';
import { deltaMsg, fakeApi, machineStats, snapshotMsg, type FakeApi } from './testing/fixtures.js';
import { setApi } from './testing/mock-vmm.js';

vi.mock('../../vmm.js', () => import('./testing/mock-vmm.js'));

// uPlot needs a real canvas: record what the dashboard asks of its charts instead.
const charts = vi.hoisted(() => [] as { names: readonly string[]; setData: number; destroyed: boolean }[]);
vi.mock('../../lib/uplot.js', () => ({
  createRateChart: (_el: HTMLElement, spec: { names: readonly string[] }) => {
    const c = { names: spec.names, setData: 0, destroyed: false };
    charts.push(c);
    return { setData: () => c.setData++, setSize: () => {}, destroy: () => (c.destroyed = true) };
  },
}));

let fake: FakeApi;
let w: VueWrapper | undefined;
const frame = () => new Promise((r) => setTimeout(r, 150));

async function mountView(): Promise<VueWrapper> {
  charts.length = 0;
  fake = fakeApi({
    snapshot: snapshotMsg(1000, { 'pci.lab0.v0.total': 10, 'vcpu0.exits': 10, 'vcpu0.kvm.halt_exits': 3, 'pci.lab0.latencyBuckets.2': 8, 'pci.lab0.latencyBuckets.65': 2 }, 0, machineStats(1000)),
  });
  setApi(fake.api);
  const pinia = createPinia();
  setActivePinia(pinia);
  w = mount(DashboardView, { props: { vmId: 'vm1' }, global: { plugins: [pinia] } });
  await flushPromises();
  await frame();
  return w;
}

describe('DashboardView', () => {
  afterEach(() => {
    w?.unmount();
    setApi(null);
    vi.restoreAllMocks();
  });

  it('charts rates, fills the vCPU and vector tables and the latency histogram', async () => {
    const w = await mountView();
    fake.emitStats({ id: 'vm1', msg: deltaMsg(1100, 1, { 'pci.lab0.v1.total': [40, 400], 'pci.lab0.v0.total': [12, 20], 'vcpu1.exits': [30, 100] }) });
    await frame();
    // Tables follow the refresh interval (0.5 s by default), charts the stream.
    await new Promise((r) => setTimeout(r, 500));
    expect(w.get('[data-testid="total-rate"]').text()).toBe('420');
    const rates = charts.find((c) => c.names.includes('interrupts/s'))!;
    expect(rates.names).toEqual(['interrupts/s', 'lab0 interrupts/s']);
    expect(rates.setData).toBeGreaterThan(0);
    expect(charts.some((c) => c.names.join() === 'vcpu0 exits/s,vcpu1 exits/s')).toBe(true);
    // Vector table: by rate, highest first.
    const sources = w.findAll('[data-testid="vector-table"] [data-testid="vector-row"]').map((r) => r.attributes('data-source'));
    expect(sources).toEqual(['lab0.v1', 'lab0.v0']);
    await w.get('[data-testid="vector-filter"]').setValue('/v0$/');
    expect(w.findAll('[data-testid="vector-row"]').map((r) => r.attributes('data-source'))).toEqual(['lab0.v0']);
    // vCPU table, with a KVM statistic column on request.
    expect(w.findAll('[data-testid="vcpu-row"]').map((r) => r.attributes('data-vcpu'))).toEqual(['0', '1']);
    await w.get('[data-testid="vcpu-kvm-stat"]').setValue('halt_exits');
    expect(w.get('[data-testid="vcpu-table"]').text()).toContain('halt_exits');
    const hist = w.get('[data-testid="latency-histogram"]');
    expect(hist.text()).toContain('Samples10');
    expect(hist.findAll('rect')).toHaveLength(66);
  });

  it('resets the counts shown (kvm_stat r) without touching the stream', async () => {
    const w = await mountView();
    await w.get('[data-testid="btn-reset-counters"]').trigger('click');
    fake.emitStats({ id: 'vm1', msg: deltaMsg(1100, 1, { 'pci.lab0.v0.total': [14, 40] }) });
    await new Promise((r) => setTimeout(r, 650));
    const row = w.get('[data-testid="vector-row"][data-source="lab0.v0"]');
    expect(row.findAll('td')[3]!.text()).toBe('4');
    expect(w.get('[data-testid="dashboard-headline"]').text()).toContain('since');
    await w.get('[data-testid="btn-reset-counters"]').trigger('click');
    await new Promise((r) => setTimeout(r, 650));
    expect(w.get('[data-testid="vector-row"][data-source="lab0.v0"]').findAll('td')[3]!.text()).toBe('14');
  });

  it('exports the counters with their rates as CSV', async () => {
    const w = await mountView();
    fake.emitStats({ id: 'vm1', msg: deltaMsg(1100, 1, { 'pci.lab0.v1.total': [40, 400] }) });
    await frame();
    const blobs: Blob[] = [];
    vi.spyOn(URL, 'createObjectURL').mockImplementation((b) => (blobs.push(b as Blob), 'blob:x'));
    const clicks: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(this.download);
    });
    await w.get('[data-testid="btn-export-csv"]').trigger('click');
    expect(clicks[0]).toMatch(/^irqbench-vm1-counters-\d{8}T\d{6}Z\.csv$/);
    const text = await blobs[0]!.text();
    expect(text.split('\r\n')).toContain('pci.lab0.v1.total,40,400');
    expect(text.startsWith('key,value,rate_per_s\r\n')).toBe(true);
    await w.get('[data-testid="btn-export-series-csv"]').trigger('click');
    const series = (await blobs[1]!.text()).split('\r\n');
    expect(series[0]).toContain('interrupts/s');
    expect(series).toHaveLength(4); // header, two samples, final CRLF
  });
});
