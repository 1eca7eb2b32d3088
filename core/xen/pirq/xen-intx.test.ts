import { describe, expect, it } from 'vitest';
import { FakeKernel } from '../../irq/fake-kernel.js';
import { KvmIntxGroup } from '../../irq/kvm-intx.js';
import { EV_DROPPED, EV_NEW } from '../evtchn/outcome.js';
import { PirqLayer } from './pirq.js';
import { XenIntxGroup } from './xen-intx.js';

const GSI = 17;

/** A device process on the Xen-aware group: the test plays it with the fds it was given. */
function rig() {
  const k = new FakeKernel();
  const raised: number[] = [];
  const pirq = new PirqLayer({ nrPirqs: 64 });
  const bound = new Map<number, number>();
  pirq.attachEvents({ raisePirq: (p) => (bound.has(p) ? (raised.push(p), EV_NEW) : EV_DROPPED), pirqPort: (p) => bound.get(p) ?? 0 });
  const inner = new KvmIntxGroup({ vm: k.vm, watcher: k, eventfds: k }, { device: 'lab/intx', gsi: GSI });
  const g = new XenIntxGroup({ hook: pirq.gsi, watcher: k, eventfds: k }, inner, { device: 'lab/intx', gsi: GSI, pin: 1 });
  const fds = { trigger: g.notifierFd(0), resample: g.resampleFd() };
  g.enable();
  const device = {
    asserted: false,
    signal: () => (k.write(fds.trigger), k.settle()),
    /** The process's resample handler: re-signal while it still asserts. */
    resampled: () => {
      const n = k.read(fds.resample);
      if (n > 0 && device.asserted) device.signal();
      return n;
    },
  };
  return { k, pirq, bound, raised, g, device, map: () => {
    const p = pirq.table.allocate(1);
    pirq.table.mapGsi(p, GSI);
    return p;
  } };
}

describe('XenIntxGroup (device-process INTx on xen-hvm)', () => {
  it('unmapped GSI: the device protocol goes through to KVM (irqfd + resample)', () => {
    const r = rig();
    r.device.asserted = true;
    r.device.signal();
    expect(r.k.deliveries).toHaveLength(1);
    r.k.eoi(GSI);
    r.k.settle();
    expect(r.device.resampled()).toBe(1); // passed on: the device re-signals
    expect(r.k.deliveries).toHaveLength(2);
    r.device.asserted = false;
    r.k.eoi(GSI);
    r.k.settle();
    expect(r.device.resampled()).toBe(1);
    expect(r.k.deliveries).toHaveLength(2);
    expect(r.raised).toEqual([]);
  });

  it('GSI mapped to a PIRQ: assertions raise the port, PHYSDEVOP_eoi is the resample', () => {
    const r = rig();
    const p = r.map();
    r.bound.set(p, 9);
    r.device.asserted = true;
    r.device.signal();
    expect(r.raised).toEqual([p]);
    expect(r.k.deliveries).toEqual([]); // eaten before the IOAPIC
    expect(r.pirq.physdev.eoi(p)).toBe(0);
    r.device.resampled(); // still asserted: re-signals → raised again
    expect(r.raised).toEqual([p, p]);
    r.device.asserted = false;
    expect(r.pirq.physdev.eoi(p)).toBe(0);
    expect(r.device.resampled()).toBe(1);
    expect(r.raised).toEqual([p, p]); // quiet
    expect(r.pirq.physdev.eoi(p)).toBe(0); // EOI with nothing asserted: no resample
    expect(r.device.resampled()).toBe(0);
    expect(r.g.pirqRaises).toBe(2);
    expect(r.g.stats()[0]).toMatchObject({ total: 2, injected: 2, resamples: 2 });
  });

  it('an assertion before bind_pirq is not lost; disabled groups hold it until enabled', () => {
    const r = rig();
    const p = r.map();
    r.g.disable();
    r.device.asserted = true;
    r.device.signal();
    expect(r.raised).toEqual([]);
    r.g.enable(); // routed now: mapped but unbound → dropped by the event channels, level kept
    r.bound.set(p, 3);
    r.pirq.binder.bind(p, 3, 0); // EVTCHNOP_bind_pirq: still asserted → raised
    expect(r.raised).toEqual([p]);
  });

  it('unmap while asserted hands the line back to the IOAPIC; destroy releases every fd', () => {
    const r = rig();
    const p = r.map();
    r.device.asserted = true;
    r.device.signal();
    expect(r.k.deliveries).toEqual([]);
    r.pirq.physdev.unmapPirq(0x7ff0, p);
    r.k.settle();
    expect(r.k.deliveries).toHaveLength(1);
    r.g.destroy();
    expect([...Array(200).keys()].some((fd) => r.k.isWatched(fd))).toBe(false);
  });
});
