// Host bridge: CF8/CFC byte lanes and enable bit, ECAM addressing, slots, MCFG, INTx routing.
import { describe, expect, it } from 'vitest';
import { IoBus } from '../bus/io-bus.js';
import { encodeSdt } from '../tables/acpi-sdt.js';
import { byteSum } from '../tables/encode.js';
import { BarMapper } from './bar-mapper.js';
import { PciSlotError } from './errors.js';
import { CONFIG_ADDRESS_PORT, CONFIG_DATA_PORT, PciHostBridge } from './host-bridge.js';
import { PciFunction } from './pci-function.js';
import { CMD_INTX_DISABLE, CMD_MEMORY, HEADER_TYPE_MULTIFUNCTION, REG, STATUS_INTERRUPT } from './regs.js';

const cf8 = (bus: number, dev: number, fn: number, reg: number) => (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;

function device(name: string, pin = 1) {
  return new PciFunction({ name, header: { vendorId: 0x1af4, deviceId: 0x1000 + pin, classCode: 0xff0000, interruptPin: pin } });
}

function rig(opts: ConstructorParameters<typeof PciHostBridge>[0] = {}) {
  const io = new IoBus('io', 0x10000);
  const mmio = new IoBus('mmio', 2 ** 52);
  const bridge = new PciHostBridge(opts);
  io.register(CONFIG_ADDRESS_PORT, 4, bridge.configAddress);
  io.register(CONFIG_DATA_PORT, 4, bridge.configData);
  mmio.register(bridge.ecamBase, bridge.ecamSize, bridge.ecam);
  return { io, mmio, bridge };
}

describe('configuration mechanism #1', () => {
  it('reads the host bridge at 00:00.0 through 0xCFC', () => {
    const { io } = rig();
    io.write(0xcf8, 4, cf8(0, 0, 0, 0));
    expect(io.read(0xcfc, 4)).toBe(0x0008_1b36);
    io.write(0xcf8, 4, cf8(0, 0, 0, 8));
    expect(io.read(0xcfc, 4) >>> 8).toBe(0x060000);
  });

  it('selects byte lanes with the data port offset', () => {
    const { io } = rig();
    io.write(0xcf8, 4, cf8(0, 0, 0, 0));
    expect(io.read(0xcfc, 1)).toBe(0x36);
    expect(io.read(0xcfd, 1)).toBe(0x1b);
    expect(io.read(0xcfe, 2)).toBe(0x0008);
    expect(io.read(0xcff, 1)).toBe(0x00);
    io.write(0xcf8, 4, cf8(0, 0, 0, REG.interruptLine));
    io.write(0xcfc, 1, 0x0a);
    expect(io.read(0xcfc, 4) & 0xff).toBe(0x0a);
    // A word at 0xCFF would cross the dword: the bus itself refuses it (beyond the device).
    expect(io.read(0xcff, 2)).toBe(0xffff);
  });

  it('floats the data port while the enable bit is clear', () => {
    const { io, bridge } = rig();
    io.write(0xcf8, 4, 0x00000000);
    expect(io.read(0xcfc, 4)).toBe(0xffffffff);
    io.write(0xcfc, 4, 0);
    expect(bridge.stats.cfcAccessesDisabled).toBe(2);
  });

  it('keeps only implemented CONFIG_ADDRESS bits and ignores non-dword accesses', () => {
    const resets: number[] = [];
    const { io, bridge } = rig({ resetControl: (v) => resets.push(v) });
    io.write(0xcf8, 4, 0xffffffff);
    expect(io.read(0xcf8, 4)).toBe(0x80fffffc);
    io.write(0xcf8, 2, 0);
    io.write(0xcfa, 1, 0);
    expect(io.read(0xcf8, 1)).toBe(0xff);
    expect(io.read(0xcf8, 4)).toBe(0x80fffffc);
    io.write(0xcf9, 1, 0x06); // Linux reboot=pci
    expect(resets).toEqual([6]);
    expect(io.read(0xcf9, 1)).toBe(0x06);
    expect(bridge.stats.cf8OtherAccesses).toBe(3);
  });

  it('answers absent devices, functions and buses with all-ones', () => {
    const { io, bridge } = rig();
    for (const addr of [cf8(0, 5, 0, 0), cf8(0, 0, 3, 0), cf8(1, 0, 0, 0)]) {
      io.write(0xcf8, 4, addr);
      expect(io.read(0xcfc, 4)).toBe(0xffffffff);
      expect(io.read(0xcfe, 2)).toBe(0xffff);
      io.write(0xcfc, 4, 0x12345678);
    }
    expect(bridge.stats.absentReads).toBe(6);
    expect(bridge.stats.absentWrites).toBe(3);
  });
});

describe('ECAM', () => {
  it('addresses bus/device/function/register and agrees with CF8/CFC', () => {
    const { io, mmio, bridge } = rig({ ecamBase: 0xe0000000, ecamBuses: 4 });
    const d = device('dev');
    bridge.addFunction(d, { device: 3, function: 0 });
    const base = 0xe0000000 + (3 << 15);
    expect(mmio.read(base, 4)).toBe(0x1001_1af4);
    expect(mmio.read(base + 2, 2)).toBe(0x1001);
    mmio.write(base + REG.command, 2, CMD_MEMORY);
    io.write(0xcf8, 4, cf8(0, 3, 0, REG.command));
    expect(io.read(0xcfc, 2)).toBe(CMD_MEMORY);
    expect(mmio.read(base + 0x100, 4)).toBe(0); // extended space of a PCIe function
    expect(mmio.read(0xe0000000 + (1 << 20), 4)).toBe(0xffffffff); // bus 1: nothing there
    expect(mmio.read(base + 3, 2)).toBe(0xffff); // crosses a dword
    expect(() => mmio.write(base + 0xfff, 4, 1)).not.toThrow();
  });

  it('ends a conventional function at 0xFF', () => {
    const { mmio, bridge } = rig();
    const f = new PciFunction({ name: 'legacy', header: { vendorId: 1, deviceId: 2, classCode: 0 }, configSize: 256 });
    bridge.addFunction(f, { device: 1, function: 0 });
    expect(mmio.read(bridge.ecamBase + (1 << 15) + 0x100, 4)).toBe(0xffffffff);
  });

  it('builds an MCFG table describing the window', () => {
    const { bridge } = rig({ ecamBase: 0xb0000000, ecamBuses: 256 });
    const t = bridge.mcfgTable();
    expect(t.signature).toBe('MCFG');
    const dv = new DataView(t.body.buffer);
    expect(t.body.length).toBe(24);
    expect(dv.getBigUint64(8, true)).toBe(0xb0000000n);
    expect(dv.getUint16(16, true)).toBe(0);
    expect([t.body[18], t.body[19]]).toEqual([0, 255]);
    expect(byteSum(encodeSdt(t))).toBe(0);
  });
});

describe('slots', () => {
  it('allocates free devices from 1 and marks multi-function devices', () => {
    const { bridge } = rig();
    expect(bridge.addFunction(device('a'))).toEqual({ device: 1, function: 0 });
    expect(bridge.addFunction(device('b'))).toEqual({ device: 2, function: 0 });
    const f1 = device('b.1');
    bridge.addFunction(f1, { device: 2, function: 1 });
    expect(bridge.functionAt(0, 2, 0)!.config.get8(REG.headerType) & HEADER_TYPE_MULTIFUNCTION).toBeTruthy();
    expect(bridge.list().map((e) => e.bdf)).toEqual(['00:00.0', '00:01.0', '00:02.0', '00:02.1']);
    expect(() => bridge.addFunction(device('c'), { device: 1, function: 0 })).toThrow(PciSlotError);
    expect(() => bridge.addFunction(device('d'), { device: 9, function: 2 })).toThrow(PciSlotError);
    expect(() => bridge.addFunction(device('e'), { device: 32, function: 0 })).toThrow(PciSlotError);
  });

  it('places BARs through the bar mapper with the function address as owner', () => {
    const io = new IoBus('io', 0x10000);
    const mmio = new IoBus('mmio', 2 ** 52);
    const mapper = new BarMapper({ io, mmio, overlapsRam: () => false });
    const bridge = new PciHostBridge({ barMapper: mapper });
    const f = new PciFunction({
      name: 'bars',
      header: { vendorId: 1, deviceId: 2, classCode: 0 },
      bars: [{ index: 0, kind: 'mem32', size: 4096, handler: { name: 'r', read: () => 7, write: () => {} } }],
    });
    bridge.addFunction(f, { device: 4, function: 0 });
    f.config.write(REG.bar0, 4, 0xc0000000);
    f.config.write(REG.command, 2, CMD_MEMORY);
    expect(mmio.find(0xc0000000)?.device.name).toBe('00:04.0.bar0');
    expect(mmio.read(0xc0000000, 4)).toBe(7);
  });
});

describe('INTx routing', () => {
  it('swizzles slot and pin onto PIRQ lines at IOAPIC pins 16-19', () => {
    const { bridge } = rig();
    bridge.addFunction(device('a', 1), { device: 1, function: 0 });
    bridge.addFunction(device('b', 2), { device: 2, function: 0 });
    bridge.addFunction(device('c', 1), { device: 3, function: 0 });
    bridge.addFunction(device('c1', 1), { device: 3, function: 1 });
    bridge.addFunction(device('d', 0), { device: 4, function: 0 });
    expect(bridge.intxRoutes().map((r) => [r.device, r.pinName, r.ioapicPin, r.mpSourceIrq])).toEqual([
      [1, 'INTA', 17, 4],
      [2, 'INTB', 19, 9],
      [3, 'INTA', 19, 12],
    ]);
    expect(bridge.intxRoutes()[0]).toMatchObject({ bus: 0, trigger: 'level', polarity: 'high', line: 1 });
  });

  it('ORs functions sharing a line and honours Interrupt Disable and MSI-X enable', () => {
    const pins = new Map<number, boolean[]>();
    const { bridge } = rig({ intxLine: (p) => ({ set: (l) => void (pins.get(p) ?? pins.set(p, []).get(p)!).push(l) }) });
    const a = device('a', 1);
    const b = device('b', 2);
    bridge.addFunction(a, { device: 2, function: 0 }); // INTA → line 2 → pin 18
    bridge.addFunction(b, { device: 1, function: 0 }); // INTB → line 2 → pin 18
    a.setIntx(true);
    b.setIntx(true);
    a.setIntx(false);
    expect(pins.get(18)).toEqual([true]);
    b.setIntx(false);
    expect(pins.get(18)).toEqual([true, false]);

    a.setIntx(true);
    expect(a.config.read(REG.status, 2) & STATUS_INTERRUPT).toBeTruthy();
    a.config.write(REG.command, 2, CMD_INTX_DISABLE);
    expect(pins.get(18)).toEqual([true, false, true, false]);
    expect(a.config.read(REG.status, 2) & STATUS_INTERRUPT).toBeTruthy(); // status still shows it
    a.config.write(REG.command, 2, 0);
    expect(a.intxAsserted).toBe(true);

    const msix = a.addMsix({ vectors: 1, tableBar: 0, tableOffset: 0, pbaBar: 0, pbaOffset: 0x800 }, { sender: { send: () => {} } });
    const ctl = msix.offset + 2;
    a.config.write(ctl, 2, 0x8000);
    expect(a.intxAsserted).toBe(false);
    a.config.write(ctl, 2, 0);
    expect(a.intxAsserted).toBe(true);
    expect(bridge.intx.lineStates()[2]).toMatchObject({ ioapicPin: 18, level: true, sources: 1 });
  });
});
