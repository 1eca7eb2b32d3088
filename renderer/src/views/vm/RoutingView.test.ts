// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import RoutingView from './RoutingView.vue';
import { fakeApi } from './testing/fixtures.js';
import { setApi } from './testing/mock-vmm.js';

vi.mock('../../vmm.js', () => import('./testing/mock-vmm.js'));

let w: VueWrapper | undefined;

describe('RoutingView', () => {
  afterEach(() => {
    w?.unmount();
    setApi(null);
  });

  it('shows irqchip and decoded MSI routes, the summary, and filters by kind', async () => {
    const fake = fakeApi();
    setApi(fake.api);
    const pinia = createPinia();
    setActivePinia(pinia);
    w = mount(RoutingView, { props: { vmId: 'vm1' }, global: { plugins: [pinia] } });
    await flushPromises();
    const rows = w.findAll('[data-testid="routing-row"]');
    expect(rows.map((r) => r.attributes('data-gsi'))).toEqual(['4', '24']);
    expect(rows[0]!.text()).toContain('ioapic pin 4');
    expect(rows[1]!.text()).toContain('APIC 1 phys');
    expect(rows[1]!.text()).toContain('vec 0x30 Fixed edge');
    expect(rows[1]!.text()).toContain('pci 00:03.0 lab0 v0');
    const summary = w.get('[data-testid="routing-summary"]').text();
    expect(summary).toContain('MSI routes');
    expect(summary).toContain('4,096');
    await w.get('[data-testid="routing-kind-filter"]').setValue('msi');
    expect(w.findAll('[data-testid="routing-row"]').map((r) => r.attributes('data-gsi'))).toEqual(['24']);
  });

  it('shows why the table is unavailable', async () => {
    const fake = fakeApi();
    fake.failNext('routingTable', 'VM vm1 is not running: start it first');
    setApi(fake.api);
    const pinia = createPinia();
    setActivePinia(pinia);
    w = mount(RoutingView, { props: { vmId: 'vm1' }, global: { plugins: [pinia] } });
    await flushPromises();
    expect(w.get('[role="alert"]').text()).toBe('VM vm1 is not running: start it first');
  });
});
