// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import XenView from './XenView.vue';
import { deltaMsg, fakeApi, type FakeApi } from './testing/fixtures.js';
import { setApi } from './testing/mock-vmm.js';

vi.mock('../../vmm.js', () => import('./testing/mock-vmm.js'));

let fake: FakeApi;
let w: VueWrapper | undefined;

async function mountView(): Promise<VueWrapper> {
  fake = fakeApi();
  setApi(fake.api);
  const pinia = createPinia();
  setActivePinia(pinia);
  w = mount(XenView, { props: { vmId: 'xen1' }, global: { plugins: [pinia] } });
  await flushPromises();
  await flushPromises();
  return w;
}

const portRow = (w: VueWrapper, p: number) => w.get(`[data-testid="xen-port-row"][data-port="${p}"]`);

describe('XenView', () => {
  afterEach(() => {
    w?.unmount();
    w = undefined;
    setApi(null);
  });

  it('shows the ABI, the port table with rates and the PIRQ mapping', async () => {
    const w = await mountView();
    expect(w.get('[data-testid="xen-abi"]').text()).toBe('FIFO');
    expect(w.findAll('[data-testid="xen-port-row"]')).toHaveLength(3);
    expect(portRow(w, 3).text()).toContain('pirq 16');
    const pirq = w.get('[data-testid="xen-pirqs"] [data-testid="xen-pirq-row"]');
    expect(pirq.text()).toContain('msi lab0 v0');
    fake.emitStats({ id: 'xen1', msg: deltaMsg(5000, 1, { 'xen.evtchn.port2.sends': [40, 250] }) });
    await flushPromises();
    await new Promise((r) => setTimeout(r, 600)); // rates refresh with the table (2 Hz)
    expect(portRow(w, 2).get('[data-testid="xen-port-sends"]').text()).toContain('250/s');
  });

  it('injects an event, moves a port to another vCPU, masks and unmasks it', async () => {
    const w = await mountView();
    await portRow(w, 2).get('[data-testid="btn-xen-send"]').trigger('click');
    await flushPromises();
    expect(fake.calls.some((c) => c.method === 'xenSend' && c.args.join() === 'xen1,2')).toBe(true);
    expect(portRow(w, 2).get('[data-testid="xen-port-sends"]').text()).toContain('3');

    await portRow(w, 2).get('[data-testid="xen-vcpu-select"]').setValue('1');
    await flushPromises();
    expect(fake.calls.some((c) => c.method === 'xenBindVcpu' && c.args.join() === 'xen1,2,1')).toBe(true);
    expect((portRow(w, 2).get('[data-testid="xen-vcpu-select"]').element as HTMLSelectElement).value).toBe('1');

    await portRow(w, 1).get('[data-testid="btn-xen-mask"]').trigger('click');
    await flushPromises();
    expect(portRow(w, 1).get('[data-testid="xen-port-masked"]').text()).toBe('yes');
    await portRow(w, 1).get('[data-testid="btn-xen-unmask"]').trigger('click');
    await flushPromises();
    expect(fake.calls.filter((c) => c.method === 'xenSetPortMask').map((c) => c.args.join())).toEqual(['xen1,1,true', 'xen1,1,false']);
    expect(portRow(w, 1).get('[data-testid="xen-port-masked"]').text()).toBe('no');
  });

  it('shows a refused action in the port row', async () => {
    const w = await mountView();
    fake.failNext('xenBindVcpu', 'vCPU 1 is offline: bring it up first');
    await portRow(w, 3).get('[data-testid="xen-vcpu-select"]').setValue('1');
    await flushPromises();
    expect(portRow(w, 3).get('[data-testid="xen-row-error"]').text()).toBe('vCPU 1 is offline: bring it up first');
    expect((portRow(w, 3).get('[data-testid="xen-vcpu-select"]').element as HTMLSelectElement).value).toBe('0');
  });
});
