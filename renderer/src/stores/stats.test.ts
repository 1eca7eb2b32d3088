import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deltaMsg, fakeApi, snapshotMsg, type FakeApi } from '../views/vm/testing/fixtures.js';
import { setApi } from '../views/vm/testing/mock-vmm.js';
import { useStatsStore } from './stats.js';

vi.mock('../vmm.js', () => import('../views/vm/testing/mock-vmm.js'));

let fake: FakeApi;
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('stats store', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
  });
  afterEach(() => {
    setApi(null);
  });

  function withApi(f: FakeApi): void {
    fake = f;
    setApi(f.api);
  }

  it('joins mid-stream: deltas received before the snapshot reply apply only when newer', async () => {
    withApi(fakeApi({ snapshot: snapshotMsg(2000, { 'pci.lab0.v0.total': 50 }) }));
    const store = useStatsStore();
    const vm = store.acquire('vm1');
    // Arrive while statsSnapshot() is in flight: one older than the snapshot, one newer.
    fake.emitStats({ id: 'vm1', msg: deltaMsg(1900, 4, { 'pci.lab0.v0.total': [40, 10] }) });
    fake.emitStats({ id: 'vm1', msg: deltaMsg(2100, 6, { 'pci.lab0.v0.total': [60, 100] }) });
    // Another VM's messages are not ours.
    fake.emitStats({ id: 'other', msg: deltaMsg(2200, 7, { 'pci.lab0.v0.total': [999, 1] }) });
    expect(vm.ready.value).toBe(false);
    await flush();
    expect(vm.ready.value).toBe(true);
    expect(vm.model.counter('pci.lab0.v0.total')).toBe(60);
    expect(vm.model.irq('lab0', 'v0')!.rate).toBe(100);
    expect(vm.model.stale).toBe(1);
    const v = vm.version.value;
    fake.emitStats({ id: 'vm1', msg: deltaMsg(2200, 7, { 'pci.lab0.v0.total': [70, 100] }) });
    expect(vm.model.counter('pci.lab0.v0.total')).toBe(70);
    expect(vm.version.value).toBe(v + 1);
    expect(vm.model.series.length).toBe(3);
  });

  it('joins on a stream snapshot when statsSnapshot fails, and retries otherwise', async () => {
    withApi(fakeApi());
    fake.failNext('statsSnapshot', 'VM vm1 is not running');
    const store = useStatsStore();
    const vm = store.acquire('vm1');
    await flush();
    expect(vm.error.value).toBe('VM vm1 is not running');
    fake.emitStats({ id: 'vm1', msg: snapshotMsg(3000, { 'vcpu0.exits': 5 }) });
    expect(vm.ready.value).toBe(true);
    expect(vm.error.value).toBeNull();
    expect(vm.model.counter('vcpu0.exits')).toBe(5);
    store.release('vm1');
  });

  it('shares one subscription between views and unsubscribes after the last release', async () => {
    withApi(fakeApi());
    const store = useStatsStore();
    const a = store.acquire('vm1');
    const b = store.acquire('vm1');
    store.acquire('vm2');
    expect(a).toBe(b);
    expect(fake.listeners).toBe(1);
    await flush();
    store.release('vm1');
    expect(store.get('vm1')).toBe(a);
    store.release('vm1');
    expect(store.get('vm1')).toBeUndefined();
    expect(fake.listeners).toBe(1);
    store.release('vm2');
    expect(fake.listeners).toBe(0);
    expect(fake.calls.filter((c) => c.method === 'statsSnapshot').length).toBe(2);
  });

  it('applies a large message over several tasks, in order, and bumps the version once it is whole', async () => {
    withApi(fakeApi({ snapshot: snapshotMsg(2000, { 'pci.lab0.v0.total': 1 }) }));
    const store = useStatsStore();
    const vm = store.acquire('vm1');
    await flush();
    expect(vm.ready.value).toBe(true);
    const changes: Record<string, [number, number]> = {};
    for (let i = 0; i < 3000; i++) changes[`pci.lab0.v${i}.total`] = [i + 5, 10];
    // Every look at the clock finds the slice's time used up.
    let now = 0;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (now += 100));
    try {
      const v = vm.version.value;
      fake.emitStats({ id: 'vm1', msg: deltaMsg(2100, 1, changes) });
      fake.emitStats({ id: 'vm1', msg: deltaMsg(2200, 2, { 'pci.lab0.v0.total': [99, 1] }) });
      expect(vm.version.value).toBe(v);
      expect(vm.model.t).toBe(2000);
      for (let i = 0; i < 20 && vm.model.t < 2200; i++) await flush();
      expect(vm.model.t).toBe(2200);
      expect(vm.model.counter('pci.lab0.v2999.total')).toBe(3004);
      expect(vm.model.counter('pci.lab0.v0.total')).toBe(99);
      expect(vm.version.value).toBe(v + 2);
    } finally {
      clock.mockRestore();
      store.release('vm1');
    }
  });
});
