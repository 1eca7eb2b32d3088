// MSI-X: layout, table access rules, function/vector masking, PBA, notifier, reset, hostile input.
import { describe, expect, it } from 'vitest';
import type { MsiMessage } from '../irq/types.js';
import { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import { MsixCapability, MSIX_CTRL_ENABLE, MSIX_CTRL_FUNCTION_MASK, msixPbaBytes, type MsixLayout } from './msix.js';

function rig(layout: Partial<MsixLayout> = {}, poll?: (a: number, b: number) => void) {
  const cfg = new ConfigSpace();
  cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
  const sent: [number, MsiMessage][] = [];
  const events: string[] = [];
  const intx: boolean[] = [];
  const msix = new MsixCapability(
    cfg,
    { vectors: 4, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800, ...layout },
    { sender: { send: (v, m) => sent.push([v, m]) }, onEnableChange: (e) => intx.push(e), ...(poll ? { poll } : {}) },
  );
  msix.setNotifier({
    unmasked: (v, m) => events.push(`unmask ${v} ${m.data.toString(16)}`),
    masked: (v) => events.push(`mask ${v}`),
    messageChanged: (v, m) => events.push(`msg ${v} ${m.data.toString(16)}`),
  });
  const ctl = (v: number) => cfg.write(msix.offset + 2, 2, v);
  const entry = (v: number, lo: number, data: number, masked: boolean) => {
    msix.table.write(v * 16, 4, lo);
    msix.table.write(v * 16 + 4, 4, 0);
    msix.table.write(v * 16 + 8, 4, data);
    msix.table.write(v * 16 + 12, 4, masked ? 1 : 0);
  };
  return { cfg, msix, sent, events, intx, ctl, entry };
}

describe('MSI-X capability', () => {
  it('describes table size, BIRs and offsets read-only', () => {
    const { cfg, msix } = rig({ vectors: 2048, tableBar: 2, tableOffset: 0x2000, pbaBar: 4, pbaOffset: 0x10 });
    expect(cfg.read(msix.offset, 4)).toBe(0x07ff0011);
    expect(cfg.read(msix.offset + 4, 4)).toBe(0x2002);
    expect(cfg.read(msix.offset + 8, 4)).toBe(0x14);
    cfg.write(msix.offset, 4, 0xffffffff);
    cfg.write(msix.offset + 4, 4, 0);
    expect(cfg.read(msix.offset, 4)).toBe(0xc7ff0011); // only Enable and Function Mask stick
    expect(cfg.read(msix.offset + 4, 4)).toBe(0x2002);
    expect(msix.regions()).toMatchObject([
      { bar: 2, offset: 0x2000, length: 2048 * 16 },
      { bar: 4, offset: 0x10, length: 256 },
    ]);
  });

  it('supports a single vector and rejects impossible layouts', () => {
    const { cfg, msix } = rig({ vectors: 1 });
    expect(cfg.read(msix.offset + 2, 2)).toBe(0);
    expect(msixPbaBytes(1)).toBe(8);
    expect(() => rig({ vectors: 0 })).toThrow(PciConfigError);
    expect(() => rig({ vectors: 2049 })).toThrow(PciConfigError);
    expect(() => rig({ tableOffset: 4 })).toThrow(PciConfigError);
    expect(() => rig({ tableBar: 6 })).toThrow(PciConfigError);
    expect(() => rig({ pbaOffset: 0x30 })).toThrow(PciConfigError); // inside the table
  });
});

describe('MSI-X table', () => {
  it('resets every entry masked with address and data 0', () => {
    const { msix } = rig({ vectors: 2048, pbaOffset: 0x8000 });
    for (const v of [0, 1, 1000, 2047]) {
      expect([0, 4, 8, 12].map((f) => msix.table.read(v * 16 + f, 4))).toEqual([0, 0, 0, 1]);
    }
  });

  it('takes DWORD and aligned QWORD accesses and ignores other sizes', () => {
    const { msix } = rig();
    msix.table.write(0, 8, 0x1_fee0_1000);
    expect(msix.table.read(0, 4)).toBe(0xfee01000);
    expect(msix.table.read(4, 4)).toBe(1);
    expect(msix.table.read(0, 8)).toBe(0x1_fee0_1000);
    msix.table.write(16, 2, 0xffff);
    msix.table.write(18, 1, 0xff);
    msix.table.write(20, 8, 1); // QWORD not 8-aligned
    msix.table.write(2, 4, 1); // misaligned DWORD
    expect(msix.table.read(16, 4)).toBe(0);
    expect(msix.table.read(0, 2)).toBe(0);
    expect(msix.table.read(1, 1)).toBe(0);
    expect(msix.table.read(4 * 16, 4)).toBe(0); // past the table
    expect(msix.stats.badAccesses).toBe(7);
  });

  it('keeps reserved bits at 0: address bits 1:0 and Vector Control 31:1', () => {
    const { msix } = rig();
    msix.table.write(0, 4, 0xfee00003);
    msix.table.write(12, 4, 0xfffffffe);
    expect(msix.table.read(0, 4)).toBe(0xfee00000);
    expect(msix.table.read(12, 4)).toBe(0);
    expect(msix.stats.reservedBitWrites).toBe(2);
  });

  it('never throws on hostile accesses', () => {
    const { msix } = rig();
    for (const [o, s] of [[NaN, 4], [-4, 4], [1e20, 4], [0, 3], [0, 0], [2 ** 53, 8]] as const) {
      expect(() => msix.table.write(o, s, 0xffffffff)).not.toThrow();
      expect(() => msix.table.read(o, s)).not.toThrow();
      expect(() => msix.pba.read(o, s)).not.toThrow();
    }
    expect(() => msix.table.write(0, 4, NaN)).not.toThrow();
    msix.notify(-1);
    msix.notify(4);
    msix.notify(1.5);
    expect(msix.stats.badVectorNotifies).toBe(3);
  });
});

describe('MSI-X delivery', () => {
  it('sends on an unmasked vector of an enabled function', () => {
    const { msix, sent, entry, ctl, intx } = rig();
    entry(2, 0xfee01000, 0x41, false);
    ctl(MSIX_CTRL_ENABLE);
    expect(intx).toEqual([true]);
    msix.notify(2);
    expect(sent).toEqual([[2, { addressLo: 0xfee01000, addressHi: 0, data: 0x41 }]]);
    expect(msix.vectorStats(2)).toMatchObject({ notifies: 1, sent: 1, firedWhileMasked: 0 });
  });

  it('latches a masked vector in the PBA and delivers it once, with the current message, on unmask', () => {
    const { msix, sent, entry, ctl, events } = rig();
    ctl(MSIX_CTRL_ENABLE);
    entry(1, 0xfee00000, 0x30, true);
    msix.notify(1);
    msix.notify(1);
    expect(sent).toEqual([]);
    expect(msix.pba.read(0, 4)).toBe(0b10);
    expect(msix.pba.read(0, 8)).toBe(0b10);
    msix.table.write(16 + 8, 4, 0x31); // new message while masked
    msix.table.write(16 + 12, 4, 0); // unmask
    expect(sent).toEqual([[1, { addressLo: 0xfee00000, addressHi: 0, data: 0x31 }]]);
    expect(msix.pba.read(0, 4)).toBe(0);
    expect(events).toEqual(['unmask 1 31']);
    msix.table.write(16 + 12, 4, 0); // unmask again: nothing more
    expect(sent).toHaveLength(1);
    expect(msix.vectorStats(1)).toEqual({ notifies: 2, sent: 1, firedWhileMasked: 2, coalesced: 1, deliveredAfterUnmask: 1 });
  });

  it('masks every vector with Function Mask and delivers pending ones when it clears', () => {
    const { msix, sent, entry, ctl, events } = rig();
    entry(0, 0xfee00000, 0x40, false);
    entry(3, 0xfee00000, 0x43, false);
    ctl(MSIX_CTRL_ENABLE | MSIX_CTRL_FUNCTION_MASK);
    expect(events).toEqual([]);
    msix.notify(0);
    msix.notify(3);
    expect(msix.pba.read(0, 4)).toBe(0b1001);
    ctl(MSIX_CTRL_ENABLE);
    expect(sent.map(([v, m]) => [v, m.data])).toEqual([[0, 0x40], [3, 0x43]]);
    expect(events).toEqual(['unmask 0 40', 'unmask 3 43']);
    ctl(MSIX_CTRL_ENABLE | MSIX_CTRL_FUNCTION_MASK);
    expect(events.slice(2)).toEqual(['mask 0', 'mask 3']);
  });

  it('treats a disabled MSI-X as masked and delivers on enable', () => {
    const { msix, sent, entry, ctl } = rig();
    entry(0, 0xfee00000, 0x40, false);
    msix.notify(0);
    expect(sent).toEqual([]);
    expect(msix.isPending(0)).toBe(true);
    ctl(MSIX_CTRL_ENABLE);
    expect(sent).toHaveLength(1);
    expect(msix.isPending(0)).toBe(false);
  });

  it('reports message changes on unmasked vectors so routes can follow', () => {
    const { msix, entry, ctl, events } = rig();
    ctl(MSIX_CTRL_ENABLE);
    entry(0, 0xfee00000, 0x40, false);
    msix.table.write(8, 4, 0x41);
    msix.table.write(8, 4, 0x41); // same value: no report
    expect(events).toEqual(['unmask 0 40', 'msg 0 41']);
    expect(msix.stats.unmaskedMessageWrites).toBe(1);
  });

  it('handles a 2048-vector table at both ends', () => {
    const { msix, sent, entry, ctl } = rig({ vectors: 2048, tableOffset: 0, pbaOffset: 0x8000 });
    ctl(MSIX_CTRL_ENABLE);
    entry(2047, 0xfee00000, 0xef, true);
    msix.notify(2047);
    expect(msix.pba.read(31 * 8 + 4, 4)).toBe(0x80000000); // last QWORD, upper half
    expect(msix.pba.read(31 * 8, 8)).toBe(0x8000_0000 * 2 ** 32);
    expect(msix.pba.read(32 * 8, 4)).toBe(0); // past the 256-byte PBA
    msix.table.write(2047 * 16 + 12, 4, 0);
    expect(sent).toEqual([[2047, { addressLo: 0xfee00000, addressHi: 0, data: 0xef }]]);
  });

  it('keeps the PBA read-only and polls before reads', () => {
    const polls: [number, number][] = [];
    const { msix } = rig({ vectors: 40, pbaOffset: 0x1000 }, (a, b) => polls.push([a, b]));
    msix.pba.write(0, 4, 0xffffffff);
    msix.pba.write(0, 8, 0xffffffff);
    expect(msix.pba.read(0, 4)).toBe(0);
    expect(msix.stats.pbaWrites).toBe(2);
    msix.pba.read(4, 4);
    msix.pba.read(0, 8);
    expect(polls).toEqual([[0, 31], [32, 39], [0, 31], [32, 39]]);
  });

  it('lets the poll hook fold eventfd events into the PBA', () => {
    const { msix, ctl, entry } = rig();
    ctl(MSIX_CTRL_ENABLE);
    entry(1, 0xfee00000, 0x31, true);
    msix.setPollHook(() => msix.notify(1)); // the interrupt layer drained a masked vector's eventfd
    expect(msix.pba.read(0, 4)).toBe(0b10);
  });

  it('gives a late notifier the current unmasked vectors, and reset masks them', () => {
    const { cfg, msix, ctl, entry, intx } = rig();
    ctl(MSIX_CTRL_ENABLE);
    entry(0, 0xfee00000, 0x40, false);
    const late: string[] = [];
    msix.setNotifier({ unmasked: (v) => late.push(`u${v}`), masked: (v) => late.push(`m${v}`), messageChanged: () => {} });
    expect(late).toEqual(['u0']);
    msix.notify(0);
    msix.reset();
    expect(late).toEqual(['u0', 'm0']);
    expect(cfg.read(msix.offset + 2, 2)).toBe(3);
    expect(msix.table.read(12, 4)).toBe(1);
    expect(msix.table.read(8, 4)).toBe(0);
    expect(msix.enabled).toBe(false);
    expect(intx).toEqual([true, false]);
  });
});
