// GSI hook (level tracking, eat/pass, callback GSI, handoff, EOI re-raise) and the whole
// layer wired to a real EventChannels: map_pirq → bind_pirq → GSI high → port pending;
// EOI while high → raised again; state()/restore() round trip.
import { describe, expect, it } from 'vitest';
import type { IrqLine } from '../../irq/types.js';
import { EVTCHNOP } from '../evtchn/dispatch.js';
import { EV_NEW } from '../evtchn/outcome.js';
import { ARG_GPA, makeFixture, SHINFO_GPA } from '../evtchn/testing/fixture.js';
import { eventsOf } from './events.js';
import { DOMID_SELF, MAP_PIRQ_TYPE, PHYSDEVOP } from './physdev.js';
import { PirqLayer } from './pirq.js';

function recLine(): IrqLine & { levels: boolean[] } {
  const levels: boolean[] = [];
  return { levels, set: (l) => levels.push(l) };
}

describe('GsiHook', () => {
  it('passes unmapped GSIs on, eats mapped ones, tracks the level and re-raises on EOI', () => {
    const layer = new PirqLayer();
    const raised: number[] = [];
    layer.attachEvents({ raisePirq: (p) => (raised.push(p), EV_NEW), pirqPort: () => 1 });
    const ioapic = recLine();
    const line = layer.gsi.wrap(10, ioapic);
    line.set(true);
    line.set(false);
    expect(ioapic.levels).toEqual([true, false]);
    expect(layer.physdev.mapPirq(DOMID_SELF, MAP_PIRQ_TYPE.GSI, 10, -1)).toMatchObject({ rc: 0, pirq: 16 });
    line.set(true);
    expect(raised).toEqual([16]);
    expect(layer.table.gsiLevel(10)).toBe(true);
    expect(layer.physdev.eoi(16)).toBe(0);
    expect(raised).toEqual([16, 16]);
    line.set(false);
    expect(layer.physdev.eoi(16)).toBe(0);
    expect(raised).toEqual([16, 16]); // low: no re-raise
    expect(ioapic.levels).toEqual([true, false]); // the IOAPIC saw nothing while mapped
    expect(layer.gsi.setGsi(24, true)).toBe(false);
    expect(layer.snapshot().gsi).toMatchObject({ eaten: 2, raised: 2, dropped: 0 });
  });

  it('never routes the callback GSI, and asserting it from inside a raise cannot recurse into PIRQ state', () => {
    let cb = -1;
    const layer = new PirqLayer({ callbackGsi: () => cb });
    const ioapic5 = recLine();
    const cbLine = layer.gsi.wrap(5, ioapic5);
    layer.physdev.mapPirq(DOMID_SELF, MAP_PIRQ_TYPE.GSI, 5, 20);
    cb = 5; // callback moved onto a mapped GSI afterwards: still never eaten
    const line9 = layer.gsi.wrap(9, recLine());
    layer.physdev.mapPirq(DOMID_SELF, MAP_PIRQ_TYPE.GSI, 9, 21);
    // raising PIRQ 21 asserts the callback line (GSI upcall) re-entrantly
    layer.attachEvents({ raisePirq: () => (cbLine.set(true), EV_NEW), pirqPort: () => 1 });
    line9.set(true);
    expect(ioapic5.levels).toEqual([true]);
    expect(layer.snapshot().gsi.callbackPassThrough).toBe(1);
    expect(layer.physdev.mapPirq(DOMID_SELF, MAP_PIRQ_TYPE.GSI, 5, -1).rc).toBe(-22);
  });

  it('hands an asserted line over on map (IOAPIC lowered) and back on unmap (IOAPIC raised)', () => {
    const layer = new PirqLayer();
    const ioapic = recLine();
    const line = layer.gsi.wrap(11, ioapic);
    line.set(true);
    expect(layer.physdev.mapPirq(DOMID_SELF, MAP_PIRQ_TYPE.GSI, 11, -1).rc).toBe(0);
    expect(ioapic.levels).toEqual([true, false]);
    expect(layer.physdev.unmapPirq(DOMID_SELF, 16)).toBe(0);
    expect(ioapic.levels).toEqual([true, false, true]);
    line.set(false);
    expect(ioapic.levels).toEqual([true, false, true, false]);
  });
});

function xen() {
  const layer = new PirqLayer({ nrPirqs: 64 });
  const f = makeFixture({ nrPirqs: layer.nrPirqs, pirq: layer.binder });
  expect(f.ec.setSharedInfo(SHINFO_GPA, true)).toBe(0);
  layer.attachEvents(eventsOf(f.ec));
  const physdev = (cmd: number, fields: [number, 2 | 4, number][]) => {
    f.mem.fill(ARG_GPA, 64, 0);
    for (const [o, w, v] of fields) (w === 2 ? f.mem.writeU16(ARG_GPA + o, v) : f.mem.writeU32(ARG_GPA + o, v >>> 0));
    return layer.physdevOp(cmd, ARG_GPA, f.args);
  };
  const mapGsi = (gsi: number) => {
    expect(physdev(PHYSDEVOP.map_pirq, [[0, 2, DOMID_SELF], [4, 4, MAP_PIRQ_TYPE.GSI], [8, 4, gsi], [12, 4, -1]])).toBe(0);
    return f.mem.readU32(ARG_GPA + 12);
  };
  const bindPirq = (pirq: number) => {
    expect(f.op(EVTCHNOP.bind_pirq, [[0, 4, pirq]])).toBe(0);
    return f.u32(8);
  };
  return { layer, f, physdev, mapGsi, bindPirq };
}

describe('PIRQ layer with real event channels', () => {
  it('map_pirq(GSI 10) → bind_pirq → GSI 10 high → port pending; EOI while high → raised again', () => {
    const { layer, f, physdev, mapGsi, bindPirq } = xen();
    const ioapic = recLine();
    const gsi10 = layer.gsi.wrap(10, ioapic);
    const pirq = mapGsi(10);
    expect(pirq).toBe(16);
    const port = bindPirq(pirq);
    expect(port).toBeGreaterThan(0);
    expect(f.ec.delivery.isPending(port)).toBe(false);
    gsi10.set(true);
    expect(f.ec.delivery.isPending(port)).toBe(true);
    expect(f.upcalls).toEqual([0]);
    // guest handles the event: clears pending, then EOIs while the device still asserts
    f.ec.delivery.clearPending(port);
    expect(physdev(PHYSDEVOP.eoi, [[0, 4, pirq]])).toBe(0);
    expect(f.ec.delivery.isPending(port)).toBe(true);
    f.ec.delivery.clearPending(port);
    gsi10.set(false);
    expect(physdev(PHYSDEVOP.eoi, [[0, 4, pirq]])).toBe(0);
    expect(f.ec.delivery.isPending(port)).toBe(false);
    expect(ioapic.levels).toEqual([]);
    expect(layer.snapshot().pirqs).toEqual([{ pirq, kind: 'gsi', source: 'gsi 10', port, count: 2, dropped: 0, level: false }]);
    // closing the port: the GSI stays mapped, assertions are eaten and dropped
    expect(f.op(EVTCHNOP.close, [[0, 4, port]])).toBe(0);
    gsi10.set(true);
    expect(layer.snapshot().pirqs[0]).toMatchObject({ port: 0, dropped: 1 });
  });

  it('bind_pirq while the GSI is already asserted raises the new port at once', () => {
    const { layer, f, mapGsi, bindPirq } = xen();
    const line = layer.gsi.wrap(11, recLine());
    const pirq = mapGsi(11);
    line.set(true); // eaten, nothing bound: dropped
    const port = bindPirq(pirq);
    expect(f.ec.delivery.isPending(port)).toBe(true);
  });

  it('state()/restore() round trip rebuilds the GSI map and the bindings, then delivery works', () => {
    const a = xen();
    a.layer.gsi.wrap(10, recLine()).set(true);
    const pirq = a.mapGsi(10);
    const port = a.bindPirq(pirq);
    const msiPirq = a.layer.physdev.getFreePirq(0);
    a.layer.table.setMsiEmu(msiPirq, { device: 'lab0', vector: 1, isMsix: true, masked: true });
    const ecState = JSON.parse(JSON.stringify(a.f.ec.state()));
    const pState = JSON.parse(JSON.stringify(a.layer.state()));

    const b = xen();
    const line = b.layer.gsi.wrap(10, recLine());
    b.f.mem.write(0, a.f.mem.read(0, 4 * 1024 * 1024)); // guest RAM travels with the VM
    b.f.ec.restore(ecState);
    b.layer.restore(pState);
    expect(b.layer.table.gsiPirq(10)).toBe(pirq);
    expect(b.layer.table.gsiLevel(10)).toBe(true);
    expect(b.layer.table.port(pirq)).toBe(port);
    expect(b.layer.snapshot().pirqs.map((r) => [r.pirq, r.source, r.port])).toEqual([
      [pirq, 'gsi 10', port],
      [msiPirq, 'lab0 msix 1', 0],
    ]);
    b.f.ec.delivery.clearPending(port);
    expect(b.physdev(PHYSDEVOP.eoi, [[0, 4, pirq]])).toBe(0); // level survived: re-raised
    expect(b.f.ec.delivery.isPending(port)).toBe(true);
    b.f.ec.delivery.clearPending(port);
    line.set(false);
    line.set(true);
    expect(b.f.ec.delivery.isPending(port)).toBe(true);
    expect(b.layer.state()).toEqual(pState);
  });
});
