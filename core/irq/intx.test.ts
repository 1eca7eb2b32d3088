import { describe, expect, it } from 'vitest';
import { FakeKernel } from './fake-kernel.js';
import { KvmIntxGroup } from './kvm-intx.js';
import { IoapicLineMux, SplitIntxGroup } from './split-intx.js';
import { RTE_LEVEL } from '../devices/ioapic-rte.js';

describe('KvmIntxGroup (irqfd + resamplefd)', () => {
  it('re-asserts on resample while the device still asserts, then stops', () => {
    const k = new FakeKernel();
    const a = new KvmIntxGroup({ vm: k.vm, watcher: k, eventfds: k }, { device: 'a', gsi: 10, pin: 1 });
    a.enable();
    expect(k.irqfdCalls[0]).toMatchObject({ gsi: 10, resample: true });
    a.setLevel(true);
    a.setLevel(true); // still asserted in KVM: coalesced
    expect(k.deliveries).toHaveLength(1);
    k.eoi(10);
    k.settle(); // resample: level still high -> re-signal
    expect(k.deliveries).toHaveLength(2);
    a.setLevel(false);
    k.eoi(10);
    k.settle();
    expect(k.deliveries).toHaveLength(2);
    expect(a.stats()[0]).toMatchObject({ resamples: 2, reasserts: 1, coalesced: 1, path: 'level' });
  });

  it('shares a GSI: each source keeps its own level across resamples', () => {
    const k = new FakeKernel();
    const ctx = { vm: k.vm, watcher: k, eventfds: k };
    const a = new KvmIntxGroup(ctx, { device: 'a', gsi: 11 });
    const b = new KvmIntxGroup(ctx, { device: 'b', gsi: 11 });
    a.enable();
    b.enable();
    a.setLevel(true);
    b.setLevel(true);
    expect(k.deliveries).toHaveLength(1); // one level line
    a.setLevel(false); // a serviced; b still pending
    k.eoi(11);
    k.settle();
    expect(k.deliveries).toHaveLength(2); // b re-asserted
    b.setLevel(false);
    k.eoi(11);
    k.settle();
    expect(k.deliveries).toHaveLength(2);
    expect(b.stats()[0]).toMatchObject({ reasserts: 1 });
  });
});

describe('SplitIntxGroup (userspace IOAPIC)', () => {
  function chip() {
    const calls: [number, boolean][] = [];
    const redirtbl: [number, number][] = Array.from({ length: 24 }, () => [0x10000, 0]);
    let listener: (v: number) => void = () => {};
    const hooks = {
      ioapic: { setIrq: (p: number, l: boolean) => calls.push([p, l]), state: () => ({ redirtbl }) },
      addEoiListener: (cb: (v: number) => void) => ((listener = cb), () => {}),
    };
    return { calls, redirtbl, hooks, eoi: (v: number) => listener(v) };
  }

  it('drives the pin with the OR of its sources', () => {
    const c = chip();
    const k = new FakeKernel();
    const mux = new IoapicLineMux(c.hooks);
    const ctx = { mux, watcher: k, eventfds: k };
    const a = new SplitIntxGroup(ctx, { device: 'a', gsi: 16 });
    const b = new SplitIntxGroup(ctx, { device: 'b', gsi: 16 });
    a.enable();
    b.enable();
    a.setLevel(true);
    b.setLevel(true);
    a.setLevel(false);
    expect(c.calls).toEqual([[16, true]]);
    b.setLevel(false);
    expect(c.calls).toEqual([[16, true], [16, false]]);
  });

  it('gives a device process resample notifications on EOI of the pin vector', () => {
    const c = chip();
    const k = new FakeKernel();
    const mux = new IoapicLineMux(c.hooks);
    const g = new SplitIntxGroup({ mux, watcher: k, eventfds: k }, { device: 'proc', gsi: 17 });
    g.enable();
    c.redirtbl[17] = [0x51 | RTE_LEVEL, 0];
    const trig = g.notifierFd(0);
    const rs = g.resampleFd();
    k.write(trig);
    k.settle();
    expect(c.calls).toEqual([[17, true]]);
    c.eoi(0x52); // another vector: nothing
    expect(k.count(rs)).toBe(0);
    c.eoi(0x51);
    expect(c.calls).toEqual([[17, true], [17, false]]); // lowered before the IOAPIC re-checks
    expect(k.read(rs)).toBe(1);
    k.write(trig); // the device still needs service
    k.settle();
    expect(c.calls.at(-1)).toEqual([17, true]);
  });
});
