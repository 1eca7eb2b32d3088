// Host-side Xen actions on the event-channel core: views, send per port type, bind_vcpu,
// mask/unmask on both ABIs, and the errors (with Xen errno names) for bad arguments.
import { describe, expect, it } from 'vitest';
import { EVTCHNOP as OP } from './evtchn/dispatch.js';
import { DOMID_SELF } from './evtchn/ops.js';
import { EVTCHN_FIFO_MASKED } from './evtchn/fifo.js';
import { ARRAY_GPA, CB_GPA, makeFixture, SHINFO_GPA, type Fixture } from './evtchn/testing/fixture.js';
import { eventsOf } from './pirq/events.js';
import { PirqLayer } from './pirq/pirq.js';
import { XenHostActions, XenHostActionError } from './host-actions.js';

function rig(fifo = false): { f: Fixture; x: XenHostActions; pirq: PirqLayer } {
  const pirq = new PirqLayer({ nrPirqs: 64 });
  const f = makeFixture({ nrVcpus: 2, nrPirqs: 64, pirq: pirq.binder }, 8);
  pirq.attachEvents(eventsOf(f.ec));
  f.ec.setSharedInfo(SHINFO_GPA, true);
  if (fifo) {
    for (let v = 0; v < 2; v++) expect(f.op(OP.init_control, [[0, 8, BigInt(CB_GPA / 4096)], [8, 4, v * 128], [12, 4, v]])).toBe(0);
    expect(f.op(OP.expand_array, [[0, 8, BigInt(ARRAY_GPA / 4096)]])).toBe(0);
  }
  return { f, x: new XenHostActions(f.ec, pirq), pirq };
}

const errorOf = (fn: () => unknown): XenHostActionError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(XenHostActionError);
    return e as XenHostActionError;
  }
  throw new Error('no error thrown');
};

describe('XenHostActions', () => {
  it('lists bound ports with type, detail, pending and mask state', () => {
    const { f, x } = rig();
    const timer = f.ec.ops.bindVirq(0, 1);
    const ipi = f.ec.ops.bindIpi(0);
    const a = f.ec.ops.allocUnbound(DOMID_SELF, DOMID_SELF);
    const b = f.ec.ops.bindInterdomain(DOMID_SELF, a);
    const view = x.ports();
    expect(view).toMatchObject({ abi: '2l', vcpus: 2 });
    expect(view.ports.map((p) => [p.port, p.type, p.vcpu, p.detail])).toEqual([
      [timer, 'virq', 1, 'VIRQ_TIMER'], [ipi, 'ipi', 0, ''], [a, 'interdomain', 0, `remote port ${b}`], [b, 'interdomain', 0, `remote port ${a}`],
    ]);
    // bind_interdomain sets the new local port pending (Xen does)
    expect(view.ports.find((p) => p.port === b)).toMatchObject({ pending: true, masked: false });
  });

  it('sends like EVTCHNOP_send on IPI and interdomain ports and raises VIRQ/PIRQ ports themselves', () => {
    const { f, x } = rig();
    const ipi = f.ec.ops.bindIpi(1);
    expect(x.send(ipi)).toEqual({ port: ipi, raised: ipi, outcome: 'new+upcall' });
    expect(x.send(ipi).outcome).toBe('coalesced');
    const a = f.ec.ops.allocUnbound(DOMID_SELF, DOMID_SELF);
    const b = f.ec.ops.bindInterdomain(DOMID_SELF, a);
    expect(x.send(b).raised).toBe(a);
    expect(f.ec.delivery.isPending(a)).toBe(true);
    const timer = f.ec.ops.bindVirq(0, 0);
    expect(x.send(timer).raised).toBe(timer);
    expect(f.ec.snapshot().ports.find((p) => p.port === ipi)).toMatchObject({ sends: 2, deliveries: 1, coalesced: 1 });
    expect(x.counters.sends).toBe(4);
    const unbound = f.ec.ops.allocUnbound(DOMID_SELF, DOMID_SELF);
    expect(errorOf(() => x.send(unbound)).message).toMatch(/unbound/);
    expect(errorOf(() => x.send(999)).message).toBe('port 999 is not bound (EINVAL)');
    expect(errorOf(() => x.send(0)).errno).toBe('EINVAL');
    expect(errorOf(() => x.send(70000)).message).toMatch(/out of range/);
  });

  it('bind_vcpu moves a pending event; IPIs and per-vCPU VIRQs stay; bad vCPUs are ENOENT', () => {
    const { f, x } = rig();
    const a = f.ec.ops.allocUnbound(DOMID_SELF, DOMID_SELF);
    const b = f.ec.ops.bindInterdomain(DOMID_SELF, a); // b pending on vCPU0
    f.upcalls.length = 0;
    x.bindVcpu(b, 1);
    expect(x.ports().ports.find((p) => p.port === b)!.vcpu).toBe(1);
    expect(f.upcalls).toEqual([1]);
    const ipi = f.ec.ops.bindIpi(0);
    expect(errorOf(() => x.bindVcpu(ipi, 1)).message).toMatch(/IPI ports stay on their vCPU \(EINVAL\)/);
    expect(errorOf(() => x.bindVcpu(f.ec.ops.bindVirq(0, 0), 1)).errno).toBe('EINVAL');
    expect(errorOf(() => x.bindVcpu(b, 2)).errno).toBe('ENOENT');
    expect(errorOf(() => x.bindVcpu(b, 1.5)).errno).toBe('ENOENT');
  });

  it('2-level mask holds events; unmask re-delivers like EVTCHNOP_unmask', () => {
    const { f, x } = rig();
    const ipi = f.ec.ops.bindIpi(0);
    x.setMask(ipi, true);
    expect(x.send(ipi).outcome).toBe('new+masked');
    expect(x.ports().ports[0]).toMatchObject({ pending: true, masked: true, maskedPending: 1 });
    f.upcalls.length = 0;
    x.setMask(ipi, false);
    expect(f.upcalls).toEqual([0]);
    expect(x.ports().ports[0]).toMatchObject({ masked: false, deliveries: 1 });
    expect(x.counters).toMatchObject({ masks: 1, unmasks: 1 });
  });

  it('FIFO mask sets MASKED in the event word; unmask links the pending event', () => {
    const { f, x } = rig(true);
    const ipi = f.ec.ops.bindIpi(0);
    x.setMask(ipi, true);
    expect(f.mem.readU32(ARRAY_GPA + ipi * 4) & EVTCHN_FIFO_MASKED).toBe(EVTCHN_FIFO_MASKED);
    expect(x.send(ipi).outcome).toBe('new+masked');
    x.setMask(ipi, false);
    expect(x.ports()).toMatchObject({ abi: 'fifo' });
    expect(x.ports().ports[0]).toMatchObject({ pending: true, masked: false, deliveries: 1 });
  });

  it('cannot mask before shared_info exists', () => {
    const pirq = new PirqLayer();
    const f = makeFixture({ nrVcpus: 1 });
    const x = new XenHostActions(f.ec, pirq);
    const ipi = f.ec.ops.bindIpi(0);
    expect(x.ports().abi).toBe('none');
    expect(errorOf(() => x.setMask(ipi, true)).message).toMatch(/shared_info/);
  });

  it('lists PIRQs with their source and port', () => {
    const { f, x, pirq } = rig();
    pirq.table.mapGsi(20, 10);
    const port = f.ec.ops.bindPirq(20, 0);
    expect(x.pirqs()).toEqual([{ pirq: 20, source: 'gsi 10', port, count: 0, dropped: 0 }]);
  });
});
