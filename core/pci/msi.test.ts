// MSI: layouts, multiple messages (vector index in data low bits), MME clamping, masking, pending.
import { describe, expect, it } from 'vitest';
import type { MsiMessage } from '../irq/types.js';
import { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import { MsiCapability, msiLayout, MSI_CTRL_64BIT, MSI_CTRL_ENABLE, MSI_CTRL_PER_VECTOR_MASK } from './msi.js';

function rig(vectors = 8, addr64 = true, perVectorMask = true) {
  const cfg = new ConfigSpace();
  cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
  const sent: [number, MsiMessage][] = [];
  const events: string[] = [];
  const polls: number[] = [];
  const msi = new MsiCapability(cfg, {
    vectors,
    addr64,
    perVectorMask,
    sender: { send: (v, m) => sent.push([v, m]) },
    poll: (a) => polls.push(a),
  });
  msi.setNotifier({
    unmasked: (v, m) => events.push(`u${v}:${m.data.toString(16)}`),
    masked: (v) => events.push(`m${v}`),
    messageChanged: (v, m) => events.push(`c${v}:${m.data.toString(16)}`),
  });
  const r = msiLayout(addr64, perVectorMask);
  const at = (o: number | undefined) => msi.offset + o!;
  return { cfg, msi, sent, events, polls, r, at };
}

describe('MSI capability layout', () => {
  it('has the four standard shapes', () => {
    expect([msiLayout(false, false).length, msiLayout(true, false).length, msiLayout(false, true).length, msiLayout(true, true).length]).toEqual([
      0x0a, 0x0e, 0x14, 0x18,
    ]);
    const { cfg, msi } = rig(8);
    expect(cfg.read(msi.offset, 4)).toBe(((MSI_CTRL_PER_VECTOR_MASK | MSI_CTRL_64BIT | (3 << 1)) << 16) | 0x05);
    expect(() => rig(3)).toThrow(PciConfigError);
    expect(() => rig(64)).toThrow(PciConfigError);
  });

  it('masks reserved address bits, the data upper half and unimplemented mask bits', () => {
    const { cfg, at, r } = rig(4);
    cfg.write(at(r.addressLo), 4, 0xffffffff);
    cfg.write(at(r.addressHi), 4, 0xffffffff);
    cfg.write(at(r.data), 4, 0xffffffff);
    cfg.write(at(r.mask), 4, 0xffffffff);
    cfg.write(at(r.pending), 4, 0xffffffff);
    expect(cfg.read(at(r.addressLo), 4)).toBe(0xfffffffc);
    expect(cfg.read(at(r.addressHi), 4)).toBe(0xffffffff);
    expect(cfg.read(at(r.data), 4)).toBe(0xffff);
    expect(cfg.read(at(r.mask), 4)).toBe(0xf);
    expect(cfg.read(at(r.pending), 4)).toBe(0);
  });
});

describe('MSI delivery', () => {
  it('puts the vector index into the low MME bits of the data', () => {
    const { cfg, msi, sent, at, r } = rig(8);
    cfg.write(at(r.addressLo), 4, 0xfee01000);
    cfg.write(at(r.data), 2, 0x4041); // low bits are the function's to replace
    cfg.write(at(r.control), 2, MSI_CTRL_ENABLE | (2 << 4)); // 4 vectors allocated
    expect(msi.allocated).toBe(4);
    msi.notify(0);
    msi.notify(3);
    expect(sent).toEqual([
      [0, { addressLo: 0xfee01000, addressHi: 0, data: 0x4040 }],
      [3, { addressLo: 0xfee01000, addressHi: 0, data: 0x4043 }],
    ]);
    msi.notify(6); // capable but not allocated: folded onto 6 mod 4
    expect(sent[2]![0]).toBe(2);
    msi.notify(8);
    expect(msi.stats).toMatchObject({ aliasedNotifies: 1, badVectorNotifies: 1 });
  });

  it('clamps Multiple Message Enable to Multiple Message Capable', () => {
    const { cfg, msi, at, r } = rig(4);
    cfg.write(at(r.control), 2, 7 << 4);
    expect((cfg.read(at(r.control), 2) >> 4) & 7).toBe(2);
    expect(msi.stats.mmeClamped).toBe(1);
    expect(msi.allocated).toBe(4);
  });

  it('latches masked vectors in Pending and delivers them once on unmask', () => {
    const { cfg, msi, sent, events, polls, at, r } = rig(4);
    cfg.write(at(r.data), 2, 0x50);
    cfg.write(at(r.addressLo), 4, 0xfee00000);
    cfg.write(at(r.mask), 4, 0b0010);
    cfg.write(at(r.control), 2, MSI_CTRL_ENABLE | (2 << 4));
    expect(events).toEqual(['u0:50', 'u2:52', 'u3:53']);
    msi.notify(1);
    msi.notify(1);
    expect(sent).toEqual([]);
    expect(cfg.read(at(r.pending), 4)).toBe(0b0010);
    expect(polls).toEqual([0]);
    cfg.write(at(r.mask), 4, 0);
    expect(sent).toEqual([[1, { addressLo: 0xfee00000, addressHi: 0, data: 0x51 }]]);
    expect(cfg.read(at(r.pending), 4)).toBe(0);
    expect(msi.vectorStats(1)).toEqual({ notifies: 2, sent: 1, firedWhileMasked: 2, coalesced: 1, deliveredAfterUnmask: 1 });
    cfg.write(at(r.data), 2, 0x60);
    expect(events.slice(-4)).toEqual(['c0:60', 'c1:61', 'c2:62', 'c3:63']);
  });

  it('holds events while disabled (no mask capability) and disables INTx while enabled', () => {
    const cfg = new ConfigSpace();
    const sent: number[] = [];
    const intx: boolean[] = [];
    const msi = new MsiCapability(cfg, { vectors: 1, addr64: false, perVectorMask: false, sender: { send: (v) => sent.push(v) }, onEnableChange: (e) => intx.push(e) });
    const r = msiLayout(false, false);
    msi.notify(0);
    expect(sent).toEqual([]);
    cfg.write(msi.offset + r.control, 2, MSI_CTRL_ENABLE);
    expect(sent).toEqual([0]);
    expect(intx).toEqual([true]);
    msi.reset();
    expect(intx).toEqual([true, false]);
    expect(cfg.read(msi.offset + r.control, 2) & MSI_CTRL_ENABLE).toBe(0);
  });

  it('never throws on hostile config writes', () => {
    const { cfg, msi } = rig(32);
    for (let o = msi.offset; o < msi.offset + 0x18; o++) {
      for (const s of [1, 2, 4, 3]) expect(() => cfg.write(o, s, 0xffffffff)).not.toThrow();
    }
    expect(msi.allocated).toBe(32);
    expect(() => msi.notify(31)).not.toThrow();
  });
});
