// MSI → PIRQ: recogniser, snooping (notifier and rescan), unmask on bind_pirq through a real
// MSI-X capability, delivery on the userspace path (sender, wrapped signalMsi).
import { describe, expect, it } from 'vitest';
import type { MsiMessage } from '../../irq/types.js';
import { ConfigSpace } from '../../pci/config-space.js';
import { MsixCapability, MSIX_CTRL_ENABLE } from '../../pci/msix.js';
import { EV_DROPPED, EV_NEW } from '../evtchn/outcome.js';
import { msiSource, msixSource, pirqMsi, pirqOfMsi } from './msi-pirq.js';
import { MsiCapability } from '../../pci/msi.js';
import { PirqLayer } from './pirq.js';

describe('PIRQ-form MSI recogniser', () => {
  it('vector 0 → PIRQ from dest ID bits and address_hi bits 31:8; pirq 0 and real MSIs are not PIRQs', () => {
    expect(pirqOfMsi({ addressLo: 0xfee2f000, addressHi: 0, data: 0x700 })).toBe(0x2f);
    expect(pirqOfMsi({ addressLo: 0xfee2f000, addressHi: 0, data: 0x4300 })).toBe(0x2f);
    // PIRQ 4166 → address 0x1000_fee46000 (Woodhouse v12 57/60)
    expect(pirqOfMsi({ addressLo: 0xfee46000, addressHi: 0x1000, data: 0 })).toBe(4166);
    expect(pirqMsi(4166)).toEqual({ addressLo: 0xfee46000, addressHi: 0x1000, data: 0x700 });
    expect(pirqOfMsi({ addressLo: 0xfee2f000, addressHi: 0, data: 0x4031 })).toBe(0); // vector 0x31
    expect(pirqOfMsi({ addressLo: 0xfee00000, addressHi: 0, data: 0 })).toBe(0); // pirq 0
    expect(pirqOfMsi({ addressLo: 0xfee2f000, addressHi: 0xff, data: 0 })).toBe(0x2f); // bits 7:0 of hi ignored
    const l = new PirqLayer({ nrPirqs: 4200 });
    expect(l.msi.translate(pirqMsi(4166))).toEqual({ pirq: 4166 });
    expect(new PirqLayer().msi.translate(pirqMsi(4166))).toBeNull(); // ≥ nr_pirqs: a normal MSI
    expect(l.msi.translate({ addressLo: 0xfee01000, addressHi: 0, data: 0x4041 })).toBeNull();
  });
});

function rig() {
  const layer = new PirqLayer();
  const raised: number[] = [];
  const ports = new Map<number, number>();
  layer.attachEvents({ raisePirq: (p) => (raised.push(p), ports.has(p) ? EV_NEW : EV_DROPPED), pirqPort: (p) => ports.get(p) ?? 0 });
  const cfg = new ConfigSpace();
  cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
  const sent: MsiMessage[] = [];
  const inner: string[] = [];
  const msix = new MsixCapability(cfg, { vectors: 4, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 }, { sender: { send: () => {} } });
  const src = msixSource('lab0', msix);
  layer.msi.attach(src);
  msix.setNotifier(layer.msi.notifier(src, {
    unmasked: (v) => inner.push(`unmask ${v}`),
    masked: (v) => inner.push(`mask ${v}`),
    messageChanged: (v) => inner.push(`msg ${v}`),
  }));
  msix.setSender(layer.msi.sender({ send: (_v, m) => sent.push(m) }));
  const entry = (v: number, m: MsiMessage, masked = true) => {
    msix.table.write(v * 16, 4, m.addressLo);
    msix.table.write(v * 16 + 4, 4, m.addressHi);
    msix.table.write(v * 16 + 8, 4, m.data);
    msix.table.write(v * 16 + 12, 4, masked ? 1 : 0);
  };
  const bind = (pirq: number, port: number) => {
    ports.set(pirq, port);
    return layer.binder.bind(pirq, port, 0);
  };
  return { layer, msix, cfg, raised, ports, sent, inner, entry, bind };
}

describe('snooping and unmask on bind_pirq', () => {
  it('a PIRQ message written into a masked vector is found, unmasked on bind, and the PBA event lands on the port', () => {
    const r = rig();
    const pirq = r.layer.physdev.getFreePirq(0);
    expect(pirq).toBe(255);
    r.cfg.write(r.msix.offset + 2, 2, MSIX_CTRL_ENABLE);
    r.entry(2, pirqMsi(pirq)); // masked: no notifier call sees this message
    r.msix.notify(2); // device fires while masked → PBA
    expect(r.msix.isPending(2)).toBe(true);
    expect(r.layer.table.kind(pirq)).toBe('unbound');
    expect(r.bind(pirq, 7)).toBe(0);
    expect(r.msix.isMasked(2)).toBe(false);
    expect(r.inner).toContain('unmask 2');
    expect(r.raised).toEqual([pirq]); // pending vector sent on unmask → port, not to the APIC
    expect(r.sent).toEqual([]);
    expect(r.layer.table.msiOf(pirq)).toEqual({ device: 'lab0', vector: 2, isMsix: true, masked: false });
    r.msix.notify(2);
    expect(r.raised).toEqual([pirq, pirq]);
    expect(r.layer.snapshot().pirqs).toEqual([{ pirq, kind: 'msi-emu', source: 'lab0 msix 2', port: 7, count: 2, dropped: 0, masked: false }]);
    expect(r.layer.snapshot().msi).toMatchObject({ delivered: 2, unmaskedOnBind: 1, snooped: 1 });
  });

  it('notifier snoops unmasked vectors; re-pointing a vector forgets the old PIRQ; normal MSIs go to the sender', () => {
    const r = rig();
    const a = r.layer.physdev.getFreePirq(0);
    const b = r.layer.physdev.getFreePirq(0);
    r.cfg.write(r.msix.offset + 2, 2, MSIX_CTRL_ENABLE);
    r.entry(0, pirqMsi(a), false);
    expect(r.layer.table.msiOf(a)).toMatchObject({ vector: 0, masked: false });
    r.entry(0, pirqMsi(b), false); // message change while unmasked
    expect(r.layer.table.kind(a)).toBe('unbound');
    expect(r.layer.table.msiOf(b)).toMatchObject({ vector: 0 });
    r.entry(1, { addressLo: 0xfee00000, addressHi: 0, data: 0x4041 }, false);
    r.msix.notify(1);
    expect(r.sent).toEqual([{ addressLo: 0xfee00000, addressHi: 0, data: 0x4041 }]);
    // PIRQ-form message with nothing bound: consumed and dropped, never sent as vector 0
    r.msix.notify(0);
    expect(r.sent.length).toBe(1);
    expect(r.layer.snapshot().msi.dropped).toBe(1);
  });

  it('snoop ignores free and GSI-mapped PIRQs; bind of a GSI PIRQ never touches vectors', () => {
    const r = rig();
    r.layer.physdev.mapPirq(0x7ff0, 1, 10, 30);
    r.cfg.write(r.msix.offset + 2, 2, MSIX_CTRL_ENABLE);
    r.entry(0, pirqMsi(30));
    r.entry(1, pirqMsi(99)); // not allocated
    expect(r.bind(30, 3)).toBe(0);
    expect(r.bind(99, 4)).toBe(0); // binding an unallocated PIRQ is allowed (Xen, QEMU)
    expect(r.msix.isMasked(0)).toBe(true);
    expect(r.msix.isMasked(1)).toBe(true);
    expect(r.layer.table.kind(30)).toBe('gsi');
    expect(r.layer.table.inUse(99)).toBe(false);
    expect(r.layer.msi.deliverPirqMsi(pirqMsi(30))).toBe(true); // GSI PIRQ targeted by MSI: dropped
    expect(r.layer.snapshot().msi.gsiTargeted).toBe(1);
    expect(r.raised).toEqual([]);
  });

  it('wrapVm: signalMsi delivers PIRQ messages to ports, passes the rest on; other members intact', () => {
    const r = rig();
    const p = r.layer.physdev.getFreePirq(0);
    r.ports.set(p, 5);
    const calls: MsiMessage[] = [];
    const vm = { irqfd: (fd: number) => fd * 2, signalMsi: (m: MsiMessage) => (calls.push(m), 1) };
    const w = r.layer.msi.wrapVm(vm);
    expect(w.signalMsi(pirqMsi(p))).toBe(1);
    expect(r.raised).toEqual([p]);
    expect(r.layer.table.kind(p)).toBe('msi-emu'); // first message maps it MSI-emu (Xen)
    expect(w.signalMsi({ addressLo: 0xfee00000, addressHi: 0, data: 0x30 })).toBe(1);
    expect(calls.length).toBe(1);
    expect(w.irqfd(4)).toBe(8);
    expect(r.layer.msi.isPirqMsi(pirqMsi(p))).toBe(true);
  });

  it('detach forgets the device; unmask failures are counted, bind still succeeds', () => {
    const r = rig();
    const p = r.layer.physdev.getFreePirq(0);
    const bad = { device: 'bad', isMsix: false, vectors: 1, message: () => pirqMsi(p), isMasked: () => true, unmask: () => { throw new Error('x'); } };
    const detach = r.layer.msi.attach(bad);
    expect(r.bind(p, 9)).toBe(0);
    expect(r.layer.snapshot().msi.unmaskFailures).toBe(1);
    expect(r.layer.table.msiOf(p)).toMatchObject({ device: 'bad', isMsix: false });
    detach();
    expect(r.layer.table.kind(p)).toBe('unbound');
  });
});

describe('plain MSI as a PIRQ source (msiSource)', () => {
  it('snoops the PIRQ-form message, unmasks the Mask bit on bind, delivers the pending event to the port', () => {
    const layer = new PirqLayer();
    const raised: number[] = [];
    const ports = new Map<number, number>();
    layer.attachEvents({ raisePirq: (p) => (raised.push(p), ports.has(p) ? EV_NEW : EV_DROPPED), pirqPort: (p) => ports.get(p) ?? 0 });
    const cfg = new ConfigSpace();
    cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
    const sent: MsiMessage[] = [];
    const msi = new MsiCapability(cfg, { vectors: 1, addr64: true, perVectorMask: true, sender: { send: () => {} } });
    const src = msiSource('lab0', msi, cfg);
    layer.msi.attach(src);
    msi.setNotifier(layer.msi.notifier(src, { unmasked: () => {}, masked: () => {}, messageChanged: () => {} }));
    msi.setSender(layer.msi.sender({ send: (_v, m) => sent.push(m) }));
    const pirq = layer.table.allocate(0);
    const m = pirqMsi(pirq, 0);
    const o = msi.offset;
    cfg.write(o + 0x10, 4, 1); // mask vector 0
    cfg.write(o + 4, 4, m.addressLo);
    cfg.write(o + 8, 4, m.addressHi);
    cfg.write(o + 0xc, 2, 0);
    cfg.write(o + 2, 2, cfg.get16(o + 2) | 1); // MSI enable
    msi.notify(0); // masked: latched in the Pending Bits register
    expect(msi.isPending(0)).toBe(true);
    ports.set(pirq, 5);
    expect(layer.msi.bindMsi(pirq)).toBe(true); // rescan finds the masked vector (no notifier saw it)
    expect(layer.table.msiOf(pirq)).toEqual({ device: 'lab0', vector: 0, isMsix: false, masked: false });
    expect(cfg.get32(o + 0x10) & 1).toBe(0); // Mask bit cleared on the guest's behalf
    expect(raised).toEqual([pirq]); // the pending event went to the port, not to the APIC
    expect(sent).toEqual([]);
    msi.notify(0);
    expect(raised).toEqual([pirq, pirq]);
    expect(layer.snapshot().pirqs.find((r) => r.pirq === pirq)).toMatchObject({ source: 'lab0 msi 0', count: 2 });
  });
});
