// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import DevicesView from './DevicesView.vue';
import { deltaMsg, fakeApi, snapshotMsg, type FakeApi } from './testing/fixtures.js';
import { setApi } from './testing/mock-vmm.js';

vi.mock('../../vmm.js', () => import('./testing/mock-vmm.js'));

let fake: FakeApi;
let w: VueWrapper | undefined;

async function mountView(vectors = 8): Promise<VueWrapper> {
  fake = fakeApi({ vectors, snapshot: snapshotMsg(1000, { 'pci.lab0.v1.total': 3 }) });
  setApi(fake.api);
  const pinia = createPinia();
  setActivePinia(pinia);
  w = mount(DevicesView, { props: { vmId: 'vm1' }, global: { plugins: [pinia] } });
  await flushPromises();
  await flushPromises();
  return w;
}

const row = (w: VueWrapper, i: number) => w.get(`[data-testid="msix-row"][data-index="${i}"]`);

describe('DevicesView / MSI-X table', () => {
  beforeEach(() => vi.useRealTimers());
  afterEach(() => {
    w?.unmount();
    w = undefined;
    setApi(null);
  });

  it('lists the devices and the decoded table with its capability header', async () => {
    const w = await mountView();
    expect(w.get('[data-testid="devices-view"]').text()).toContain('lab0');
    expect(w.findAll('[data-testid="msix-row"]')).toHaveLength(8);
    const r = row(w, 1);
    expect(r.text()).toContain('0xfee01000');
    expect(r.text()).toContain('APIC 1 phys');
    expect(r.text()).toContain('vec 0x31 Fixed edge');
    expect(r.get('[data-testid="msix-masked"]').text()).toBe('no');
    // The stats stream's total (3) is newer than the table's (0).
    expect(r.get('[data-testid="msix-total"]').text()).toBe('3');
    expect(w.get('[data-testid="msix-capability"]').text()).toContain('BAR1 + 0x8000');
    // Only the page window was asked for.
    expect(fake.calls.find((c) => c.method === 'msixTable')!.args).toEqual(['vm1', 'lab0', 0, 64]);
  });

  it('masks, fires while masked (pending), unmasks (delivered after unmask)', async () => {
    const w = await mountView();
    await row(w, 2).get('[data-testid="btn-mask"]').trigger('click');
    await flushPromises();
    expect(fake.calls.some((c) => c.method === 'setVectorMask' && c.args.join() === 'vm1,lab0,2,true')).toBe(true);
    expect(row(w, 2).get('[data-testid="msix-masked"]').text()).toBe('yes');
    await row(w, 2).get('[data-testid="btn-fire"]').trigger('click');
    await flushPromises();
    expect(row(w, 2).get('[data-testid="msix-pending"]').text()).toBe('yes');
    expect(row(w, 2).get('[data-testid="msix-total"]').text()).toBe('1');
    await row(w, 2).get('[data-testid="btn-unmask"]').trigger('click');
    await flushPromises();
    expect(row(w, 2).get('[data-testid="msix-pending"]').text()).toBe('no');
    expect(row(w, 2).get('[data-testid="msix-delivered-after-unmask"]').text()).toBe('1');
  });

  it('shows a refused action in its row', async () => {
    const w = await mountView();
    fake.failNext('fireVector', 'vector 3 is not enabled');
    await row(w, 3).get('[data-testid="btn-fire"]').trigger('click');
    await flushPromises();
    expect(row(w, 3).get('[data-testid="msix-row-error"]').text()).toBe('vector 3 is not enabled');
    expect(row(w, 4).find('[data-testid="msix-row-error"]').exists()).toBe(false);
  });

  it('filters (masked, index text) and sorts by the live rate', async () => {
    const w = await mountView(300);
    expect(w.findAll('[data-testid="msix-row"]')).toHaveLength(64);
    fake.msix[7]!.masked = true;
    fake.msix[250]!.masked = true;
    await w.get('[data-testid="msix-filter"]').setValue('masked');
    await flushPromises();
    expect(w.findAll('[data-testid="msix-row"]').map((r) => r.attributes('data-index'))).toEqual(['7', '250']);
    // A filter needs the whole table.
    expect(fake.calls.at(-1)!.args).toEqual(['vm1', 'lab0', 0, undefined]);
    await w.get('[data-testid="msix-filter"]').setValue('all');
    await w.get('[data-testid="msix-index-filter"]').setValue('10-12, 299');
    await flushPromises();
    expect(w.findAll('[data-testid="msix-row"]').map((r) => r.attributes('data-index'))).toEqual(['10', '11', '12', '299']);
    await w.get('[data-testid="msix-index-filter"]').setValue('');
    fake.emitStats({ id: 'vm1', msg: deltaMsg(2000, 1, { 'pci.lab0.v200.total': [50, 500], 'pci.lab0.v9.total': [5, 50] }) });
    await new Promise((r) => setTimeout(r, 300)); // live columns refresh at 4 Hz
    const rateHeader = w.findAll('th button').find((b) => b.text().startsWith('/s'))!;
    await rateHeader.trigger('click');
    await flushPromises();
    const order = w.findAll('[data-testid="msix-row"]').map((r) => r.attributes('data-index'));
    // v1 did not change in the delta: its rate is 0 now, so index order breaks the tie.
    expect(order.slice(0, 3)).toEqual(['200', '9', '0']);
  });

  it('derives per-vector rates from the table totals when the stream has none for the vector', async () => {
    const w = await mountView();
    expect(row(w, 6).get('[data-testid="msix-rate"]').text()).toBe('0');
    fake.msix[6]!.total += 500;
    await new Promise((r) => setTimeout(r, 400)); // one more 4 Hz poll
    await flushPromises();
    expect(Number(row(w, 6).get('[data-testid="msix-rate"]').text().replace(/,/g, ''))).toBeGreaterThan(0);
    expect(row(w, 7).get('[data-testid="msix-rate"]').text()).toBe('0');
  });
});
