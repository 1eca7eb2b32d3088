// Userspace IOAPIC: register map, KVM-equivalent edge/level/Remote IRR/EOI semantics,
// route maintenance, MSI translation, save/restore, the text view and hostile inputs.
import { describe, expect, it } from 'vitest';
import type { MsiMessage } from '../irq/types.js';
import { Ioapic, type IoapicOptions } from './ioapic.js';
import { msiFromRte, RTE_LEVEL, RTE_MASKED, RTE_REMOTE_IRR } from './ioapic-rte.js';
import { ManualTime } from './manual-time.js';

function setup(options: IoapicOptions = {}) {
  const asserts: number[] = [];
  const routes: { pin: number; msg: MsiMessage | null; level: boolean }[] = [];
  const ioapic = new Ioapic(
    { assert: (pin) => asserts.push(pin), updateRoute: (pin, msg, level) => routes.push({ pin, msg, level }) },
    options,
  );
  const readReg = (reg: number) => (ioapic.write(0x00, 4, reg), ioapic.read(0x10, 4));
  const writeReg = (reg: number, v: number) => (ioapic.write(0x00, 4, reg), ioapic.write(0x10, 4, v));
  const setRte = (pin: number, lo: number, hi = 0) => (writeReg(0x11 + 2 * pin, hi), writeReg(0x10 + 2 * pin, lo));
  const rteLo = (pin: number) => readReg(0x10 + 2 * pin);
  return { ioapic, asserts, routes, readReg, writeReg, setRte, rteLo };
}

describe('Ioapic registers', () => {
  it('VER, ID, ARB and reset RTEs', () => {
    const { readReg, writeReg } = setup();
    expect(readReg(0x01)).toBe(0x00170020);
    writeReg(0x00, 0xffffffff);
    expect(readReg(0x00)).toBe(0x0f000000);
    expect(readReg(0x02)).toBe(0x0f000000);
    writeReg(0x01, 0);
    expect(readReg(0x01)).toBe(0x00170020);
    for (let pin = 0; pin < 24; pin++) {
      expect(readReg(0x10 + 2 * pin)).toBe(RTE_MASKED);
      expect(readReg(0x11 + 2 * pin)).toBe(0);
    }
  });

  it('undefined indirect registers read all ones (KVM) and ignore writes', () => {
    const { ioapic, readReg, writeReg } = setup();
    for (const reg of [0x03, 0x0f, 0x40, 0xff]) {
      writeReg(reg, 0x12345678);
      expect(readReg(reg)).toBe(0xffffffff);
    }
    expect(ioapic.stats.ignoredWrites).toBe(4);
  });

  it('IOREGSEL is 8 bits; only exact offsets decode; the page aliases every 256 bytes', () => {
    const { ioapic } = setup();
    ioapic.write(0x00, 4, 0x1234501);
    expect(ioapic.read(0x00, 4)).toBe(0x01);
    expect(ioapic.read(0x10, 4)).toBe(0x00170020);
    expect(ioapic.read(0x11, 1)).toBe(0); // unaligned: no register
    expect(ioapic.read(0x10, 1)).toBe(0x20);
    expect(ioapic.read(0x10, 2)).toBe(0x0020);
    expect(ioapic.read(0x110, 4)).toBe(0x00170020);
    expect(ioapic.read(0x40, 4)).toBe(0); // EOI register is write-only
    expect(ioapic.read(0x20, 4)).toBe(0);
  });

  it('RTE writes keep Remote IRR and Delivery Status read-only; reserved bits as KVM', () => {
    const { setRte, rteLo, readReg, ioapic } = setup();
    setRte(3, 0xffffffff & ~RTE_MASKED, 0xffffffff);
    expect(rteLo(3)).toBe((0xffffffff & ~(RTE_MASKED | RTE_REMOTE_IRR | (1 << 12))) >>> 0);
    expect(readReg(0x17)).toBe(0xffffffff);
    ioapic.setIrq(3, true); // level: sets Remote IRR
    expect(rteLo(3) & RTE_REMOTE_IRR).toBe(RTE_REMOTE_IRR);
    setRte(3, 0x0000a030); // level again, Remote IRR must survive the write
    expect(rteLo(3) & RTE_REMOTE_IRR).toBe(RTE_REMOTE_IRR);
  });

  it("reservedBits 'zero' makes reserved RTE bits read 0", () => {
    const { setRte, rteLo, readReg } = setup({ reservedBits: 'zero' });
    setRte(0, 0xffffffff, 0xffffffff);
    expect(rteLo(0)).toBe(0x1afff);
    expect(readReg(0x11)).toBe(0xfffe0000);
  });
});

describe('Ioapic edge-triggered pins', () => {
  it('delivers on rising edges only; a held line is coalesced', () => {
    const { ioapic, asserts, setRte } = setup();
    setRte(2, 0x30);
    ioapic.setIrq(2, true);
    ioapic.setIrq(2, true);
    expect(asserts).toEqual([2]);
    ioapic.setIrq(2, false);
    ioapic.setIrq(2, true);
    ioapic.setIrq(2, false);
    expect(asserts).toEqual([2, 2]);
    const s = ioapic.snapshot().pins[2]!;
    expect([s.assertions, s.deliveries, s.coalesced]).toEqual([2, 2, 1]);
  });

  it('an edge while masked is lost: unmasking does not deliver it (KVM)', () => {
    const { ioapic, asserts, setRte } = setup();
    setRte(4, 0x31 | RTE_MASKED);
    ioapic.setIrq(4, true);
    ioapic.setIrq(4, false);
    ioapic.setIrq(4, true); // still high when unmasked
    setRte(4, 0x31);
    expect(asserts).toEqual([]);
    expect(ioapic.snapshot().pins[4]!.maskedWhileAsserted).toBe(2);
    ioapic.setIrq(4, false);
    ioapic.setIrq(4, true);
    expect(asserts).toEqual([4]);
  });

  it('EOIs do not touch edge entries', () => {
    const { ioapic, asserts, setRte } = setup();
    setRte(1, 0x41);
    ioapic.setIrq(1, true);
    ioapic.eoi(0x41);
    expect(asserts).toEqual([1]);
    expect(ioapic.stats.unmatchedEois).toBe(1);
  });
});

describe('Ioapic level-triggered pins', () => {
  it('Remote IRR blocks re-delivery until EOI; EOI re-delivers a still-asserted line', () => {
    const { ioapic, asserts, setRte, rteLo } = setup();
    setRte(10, RTE_LEVEL | 0x50);
    ioapic.setIrq(10, true);
    ioapic.setIrq(10, true);
    expect(asserts).toEqual([10]);
    expect(rteLo(10) & RTE_REMOTE_IRR).toBe(RTE_REMOTE_IRR);
    ioapic.eoi(0x50); // line still high: delivered again
    expect(asserts).toEqual([10, 10]);
    ioapic.setIrq(10, false);
    ioapic.eoi(0x50);
    expect(asserts).toEqual([10, 10]);
    expect(rteLo(10) & RTE_REMOTE_IRR).toBe(0);
    const s = ioapic.snapshot().pins[10]!;
    expect([s.deliveries, s.coalesced, s.eois]).toEqual([2, 1, 2]);
  });

  it('masked level line is delivered on unmask while asserted, not after deassert', () => {
    const { ioapic, asserts, setRte } = setup();
    setRte(11, RTE_LEVEL | RTE_MASKED | 0x51);
    ioapic.setIrq(11, true);
    expect(asserts).toEqual([]);
    setRte(11, RTE_LEVEL | 0x51);
    expect(asserts).toEqual([11]);
    ioapic.eoi(0x51);
    expect(asserts).toEqual([11, 11]);
    setRte(11, RTE_LEVEL | RTE_MASKED | 0x51);
    ioapic.eoi(0x51); // EOI while masked: clears Remote IRR, no delivery
    ioapic.setIrq(11, false);
    setRte(11, RTE_LEVEL | 0x51);
    expect(asserts).toEqual([11, 11]);
  });

  it('switching a level entry to edge clears Remote IRR (pseudo-EOI)', () => {
    const { ioapic, asserts, setRte, rteLo } = setup();
    setRte(5, RTE_LEVEL | 0x60);
    ioapic.setIrq(5, true);
    setRte(5, 0x60 | RTE_MASKED);
    expect(rteLo(5) & RTE_REMOTE_IRR).toBe(0);
    setRte(5, RTE_LEVEL | 0x60); // back to level, unmasked, line high: delivered
    expect(asserts).toEqual([5, 5]);
  });

  it('the EOI register (0x40) acts like an EOI for the vector', () => {
    const { ioapic, asserts, setRte } = setup();
    setRte(9, RTE_LEVEL | 0x70);
    ioapic.setIrq(9, true);
    ioapic.write(0x40, 4, 0x170); // only bits 7:0 are the vector
    expect(asserts).toEqual([9, 9]);
    expect(ioapic.stats.eoiRegisterWrites).toBe(1);
  });

  it('interrupt storm: the 10000th back-to-back re-delivery waits 10 ms', () => {
    const time = new ManualTime();
    const { ioapic, asserts, setRte } = setup({ clock: time.clock, scheduler: time });
    setRte(7, RTE_LEVEL | 0x80);
    ioapic.setIrq(7, true);
    for (let i = 0; i < 9999; i++) ioapic.eoi(0x80);
    expect(asserts.length).toBe(10000);
    ioapic.eoi(0x80);
    expect(asserts.length).toBe(10000);
    time.advance(9_999_999n);
    expect(asserts.length).toBe(10000);
    time.advance(1n);
    expect(asserts.length).toBe(10001);
    expect(ioapic.stats.stormDelays).toBe(1);
  });
});

describe('Ioapic routes and MSI translation', () => {
  it('msiFromRte maps destination, extended destination, modes and trigger', () => {
    const msg = msiFromRte({ lo: RTE_LEVEL | (1 << 13) | (1 << 11) | (1 << 8) | 0x45, hi: (0x12 << 24) | (0x55 << 17) });
    expect(msg.addressLo).toBe((0xfee00000 | (0x12 << 12) | (0x55 << 5) | (1 << 2)) >>> 0);
    expect(msg.addressHi).toBe(0);
    expect(msg.data).toBe(0x45 | (1 << 8) | (1 << 15) | (1 << 14));
    expect(msiFromRte((0x03n << 56n) | 0x21n)).toEqual({ addressLo: 0xfee03000, addressHi: 0, data: 0x21 });
  });

  it('installs a route when an entry is unmasked or changed, keeps it while masked', () => {
    const { routes, setRte, writeReg } = setup();
    writeReg(0x11, 0x01000000); // dest 1, entry still masked: no route
    expect(routes).toEqual([]);
    writeReg(0x10, RTE_LEVEL | 0x33);
    expect(routes).toEqual([{ pin: 0, msg: msiFromRte({ lo: RTE_LEVEL | 0x33, hi: 0x01000000 }), level: true }]);
    setRte(0, RTE_LEVEL | 0x33, 0x01000000); // unchanged
    expect(routes.length).toBe(1);
    setRte(0, RTE_LEVEL | RTE_MASKED | 0x34, 0x01000000); // masked: route left alone
    expect(routes.length).toBe(1);
    setRte(0, 0x34);
    expect(routes.length).toBe(2);
    expect(routes[1]!.level).toBe(false);
  });

  it('reset masks everything and drops routes', () => {
    const { ioapic, routes, setRte, rteLo } = setup();
    setRte(6, 0x66);
    ioapic.reset();
    expect(rteLo(6)).toBe(RTE_MASKED);
    expect(routes.at(-1)).toEqual({ pin: 6, msg: null, level: false });
  });
});

describe('Ioapic state, snapshot and describe', () => {
  it('state/restore round-trips and re-injects pending lines', () => {
    const a = setup();
    a.writeReg(0, 0x05000000);
    a.setRte(1, 0x21, 0x02000000);
    a.setRte(12, RTE_LEVEL | RTE_MASKED | 0x2c);
    a.ioapic.setIrq(12, true); // pending behind the mask
    a.ioapic.setIrq(1, true); // delivered edge: not in the saved IRR
    const saved = a.ioapic.state();
    expect(saved.irr).toBe(1 << 12);
    const b = setup();
    b.ioapic.restore(saved);
    expect(b.ioapic.state()).toEqual(saved);
    expect(b.routes.map((r) => r.pin)).toEqual([1]);
    expect(b.asserts).toEqual([]);
    b.setRte(12, RTE_LEVEL | 0x2c); // unmask: the restored line is still asserted
    expect(b.asserts).toEqual([12]);
  });

  it('describe() shows the per-pin view', () => {
    const { ioapic, setRte } = setup();
    setRte(4, RTE_LEVEL | 0x24, 0x03000000);
    ioapic.setIrq(4, true);
    const text = ioapic.describe();
    expect(text).toContain('ioapic: ver=0x20 id=0x00');
    expect(text).toMatch(/pin 4 +0x030000000000[0-9a-f]{4} dest=3 vec=36 +active-hi level +fixed +physical IRR rIRR/);
    expect(text).toContain('pin 0  0x0000000000010000 dest=0 vec=0   active-hi edge  masked fixed  physical');
    expect(text).toContain('  IRR        4');
    expect(text).toContain('  Remote IRR 4');
  });
});

describe('Ioapic hostile inputs', () => {
  it('never throws on bad pins, vectors, sizes and offsets', () => {
    const { ioapic } = setup();
    for (const pin of [-1, 24, 1000, NaN, 1.5]) expect(() => ioapic.setIrq(pin, true)).not.toThrow();
    expect(ioapic.stats.badPins).toBe(5);
    for (const v of [NaN, -1, 2 ** 40, 256]) expect(() => ioapic.eoi(v)).not.toThrow();
    for (const [off, size] of [[0, 3], [0x10, 0], [NaN, 4], [-16, 4], [0xfff, 1], [0x10, 16]] as const) {
      expect(() => ioapic.write(off, size, 0xffffffff)).not.toThrow();
      expect(() => ioapic.read(off, size)).not.toThrow();
    }
    for (let sel = 0; sel < 256; sel++) {
      ioapic.write(0, 1, sel);
      expect(() => ioapic.write(0x10, 4, 0xffffffff)).not.toThrow();
      expect(ioapic.read(0x10, 4)).toBeGreaterThanOrEqual(0);
    }
    expect(() => ioapic.restore({ id: NaN, ioregsel: -1, irr: 2 ** 40 - 1, redirtbl: [] })).not.toThrow();
  });
});
