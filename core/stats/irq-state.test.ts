// Decoders of the interrupt-state snapshot on synthetic bytes: the KVM_GET_LAPIC page and
// KVM_GET_IRQCHIP's IOAPIC/PIC structs (the IOAPIC checked against the userspace IOAPIC's
// own snapshot of the same redirection table), plus the text rendering.
import { describe, expect, it } from 'vitest';
import { decodeLapic, LAPIC_REG, LapicDecodeError, timerDivisor } from './lapic-decode.js';
import { decodeKvmIoapic, decodeKvmPic, IrqchipDecodeError, KVM_IRQCHIP_SIZE } from './kvm-irqchip-decode.js';
import { Ioapic } from '../devices/ioapic.js';
import { formatInterruptState } from './irq-state-format.js';
import type { InterruptState } from './irq-state.js';

function lapicPage(regs: Record<number, number>): Uint8Array {
  const b = new Uint8Array(1024);
  const dv = new DataView(b.buffer);
  for (const [off, v] of Object.entries(regs)) dv.setUint32(Number(off), v >>> 0, true);
  return b;
}

describe('LAPIC page decoder', () => {
  it('decodes ID, version, priorities, SVR, vector banks, LVTs and the timer', () => {
    const R = LAPIC_REG;
    const l = decodeLapic(lapicPage({
      [R.id]: 3 << 24, [R.version]: 0x50014, [R.tpr]: 0x20, [R.ppr]: 0x30, [R.svr]: 0x1ff,
      [R.isr + 0x10]: 1 << 1, // vector 33
      [R.irr + 0x70]: 1 << 31, // vector 255
      [R.tmr + 0x10]: 1 << 1,
      [R.lvtTimer]: 0x200ec, // periodic, vector 0xec
      [R.lvtLint0]: 0x10700, // masked ExtINT
      [R.lvtLint1]: 0x0a400, // level, active-low, NMI
      [R.lvtError]: 0xfe,
      [R.timerInitialCount]: 1000, [R.timerCurrentCount]: 400, [R.timerDivide]: 0b1011,
    }));
    expect(l).toMatchObject({ id: 3, version: 0x14, maxLvt: 5, tpr: 0x20, ppr: 0x30, isr: [33], tmr: [33], irr: [255] });
    expect(l.svr).toEqual({ raw: 0x1ff, enabled: true, spuriousVector: 0xff, focusChecking: true, eoiBroadcastSuppression: false });
    expect(l.lvt.timer).toMatchObject({ vector: 0xec, masked: false, timerMode: 'periodic' });
    expect(l.lvt.timer.deliveryMode).toBeUndefined();
    expect(l.lvt.lint0).toMatchObject({ vector: 0, masked: true, deliveryMode: 'ExtINT', trigger: 'edge', polarity: 'high' });
    expect(l.lvt.lint1).toMatchObject({ masked: false, deliveryMode: 'NMI', trigger: 'level', polarity: 'low' });
    expect(l.lvt.error).toMatchObject({ vector: 0xfe, masked: false });
    expect(l.timer).toEqual({ initialCount: 1000, currentCount: 400, divideRaw: 0b1011, divideBy: 1 });
    expect([0b0000, 0b0001, 0b0010, 0b0011, 0b1000, 0b1001, 0b1010].map(timerDivisor)).toEqual([2, 4, 8, 16, 32, 64, 128]);
    expect(decodeLapic(lapicPage({})).svr.enabled).toBe(false);
    expect(() => decodeLapic(new Uint8Array(16))).toThrow(LapicDecodeError);
  });
});

function kvmIrqchip(chipId: number, fill: (dv: DataView) => void): Uint8Array {
  const b = new Uint8Array(KVM_IRQCHIP_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, chipId, true);
  fill(new DataView(b.buffer, 8));
  return b;
}

describe('KVM_GET_IRQCHIP decoders', () => {
  it('decodes the in-kernel IOAPIC into the userspace snapshot per-pin shape', () => {
    const io = new Ioapic({ updateRoute: () => {}, assert: () => {} });
    const program = (sel: number, v: number): void => {
      io.write(0x00, 4, sel);
      io.write(0x10, 4, v);
    };
    program(0x10 + 4 * 2, 0x0000a931); // pin 4: vector 0x31, lowest priority, logical, level, active-low
    program(0x10 + 4 * 2 + 1, 0x05000000); // dest 5
    program(0x10 + 9 * 2, 0x00000041); // pin 9: unmasked edge vector 0x41
    io.setIrq(9, true);
    const st = io.state();
    const bytes = kvmIrqchip(2, (dv) => {
      dv.setBigUint64(0, 0xfec00000n, true);
      dv.setUint32(8, st.ioregsel, true);
      dv.setUint32(12, st.id, true);
      dv.setUint32(16, 1 << 9, true); // KVM keeps a delivered edge's IRR bit until the line drops
      st.redirtbl.forEach(([lo, hi], pin) => {
        dv.setUint32(24 + pin * 8, lo!, true);
        dv.setUint32(28 + pin * 8, hi!, true);
      });
    });
    const k = decodeKvmIoapic(bytes);
    expect(k).toMatchObject({ source: 'kernel', base: 0xfec00000, id: 0 });
    const strip = ({ assertions, deliveries, coalesced, maskedWhileAsserted, eois, ...cfg }: ReturnType<Ioapic['snapshot']>['pins'][number]) => cfg;
    expect(k.pins).toEqual(io.snapshot().pins.map(strip));
    expect(k.pins[4]).toMatchObject({ vector: 0x31, destination: 5, deliveryMode: 'lowest', destMode: 'logical', trigger: 'level', polarity: 'low', masked: false });
    expect(k.pins[0]!.masked).toBe(true);
    expect(() => decodeKvmIoapic(kvmIrqchip(0, () => {}))).toThrow(IrqchipDecodeError);
  });

  it('decodes the PICs', () => {
    const p = decodeKvmPic(kvmIrqchip(1, (dv) => [0, 0x10, 0xef, 0x01, 0, 0x28, 1, 0, 0, 0, 0, 0, 1, 1, 0x0c, 0xde].forEach((v, i) => dv.setUint8(i, v))), 1);
    expect(p).toEqual({ chip: 'slave', irr: 0x10, imr: 0xef, isr: 0x01, irqBase: 0x28, priorityAdd: 0, readRegSelect: 'isr', autoEoi: false, specialFullyNestedMode: true, elcr: 0x0c, initState: 0 });
  });

  it('renders text like QEMU info lapic / info pic', () => {
    const R = LAPIC_REG;
    const s: InterruptState = {
      t: 0, name: 'vm', irqchip: 'kernel', machineState: 'running',
      vcpus: [{ id: 0, lapic: decodeLapic(lapicPage({ [R.svr]: 0x1ff, [R.lvtError]: 0xfe, [R.isr]: 0 })) }],
      ioapic: decodeKvmIoapic(kvmIrqchip(2, (dv) => dv.setUint32(24 + 4 * 8, 0x24, true))),
      pics: [decodeKvmPic(kvmIrqchip(0, (dv) => dv.setUint8(5, 0x20)), 0)],
      pci: [],
    };
    const text = formatInterruptState(s);
    expect(text).toMatch(/^dumping local APIC state for CPU 0/m);
    expect(text).toMatch(/^LVTERR  0x000000fe edge Fixed \(vec 254\)$/m);
    expect(text).toMatch(/^SPIV +0x000001ff APIC enabled, spurious vector 255/m);
    expect(text).toMatch(/^pic0: irr=00 imr=00 isr=00 hprio=0 irq_base=20/m);
    expect(text).toMatch(/^ {2}pin {2}4 {2}vec= 36 fixed edge active-high physical dest=0$/m);
  });
});
