import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { byteSum, TableLayoutError } from './encode.js';
import { buildMpTable, CPU_FEATURES, CPU_SIGNATURE, MPC } from './mptable.js';

const ascii = (m: GuestMemory, addr: number, len: number): string => Buffer.from(m.read(addr, len)).toString('latin1');

/** Linux's smp_scan_config over 0xF0000-0xFFFFF: 16-byte steps, signature + checksum. */
function scanMpf(m: GuestMemory): number[] {
  const hits: number[] = [];
  for (let a = 0xf0000; a < 0x100000; a += 16) {
    if (ascii(m, a, 4) === '_MP_' && byteSum(m.read(a, 16)) === 0) hits.push(a);
  }
  return hits;
}

interface Entry {
  type: number;
  b: Uint8Array;
}

function parse(m: GuestMemory): { entries: Entry[]; header: Uint8Array } {
  const [mpf, ...more] = scanMpf(m);
  expect(more).toEqual([]);
  expect(m.readU8(mpf! + 8)).toBe(1); // length in paragraphs
  expect(m.readU8(mpf! + 9)).toBe(4); // spec 1.4
  expect(m.readU8(mpf! + 11)).toBe(0); // config table present
  expect(m.readU8(mpf! + 12)).toBe(0); // no IMCR
  const table = m.readU32(mpf! + 4);
  expect(ascii(m, table, 4)).toBe('PCMP');
  const len = m.readU16(table + MPC.baseLength);
  const bytes = m.read(table, len);
  expect(byteSum(bytes)).toBe(0);
  expect(bytes[MPC.specRev]).toBe(4);
  expect(m.readU32(table + MPC.lapicAddr)).toBe(0xfee00000);
  expect(ascii(m, table + MPC.oemId, 8)).toBe('IRQBENCH');
  const count = m.readU16(table + MPC.entryCount);
  const entries: Entry[] = [];
  let at = MPC.size;
  for (let i = 0; i < count; i++) {
    const type = bytes[at]!;
    const size = type === 0 ? 20 : 8;
    entries.push({ type, b: bytes.subarray(at, at + size) });
    at += size;
  }
  expect(at).toBe(len);
  return { entries, header: bytes.subarray(0, MPC.size) };
}

const u32 = (b: Uint8Array, off: number): number => new DataView(b.buffer, b.byteOffset).getUint32(off, true);

describe('buildMpTable', () => {
  it.each([1, 2])('describes %i CPUs, ISA, the IOAPIC and the PC interrupt wiring', (cpus) => {
    const m = GuestMemory.anonymous(pcLayout(4 * MiB));
    const res = buildMpTable(m, { cpus });
    expect(res.floatingPointerAddr).toBe(0xf0000);
    const { entries } = parse(m);
    // Entries in spec order.
    const types = entries.map((e) => e.type);
    expect(types).toEqual([...types].sort((a, b) => a - b));

    const cpusE = entries.filter((e) => e.type === 0);
    expect(cpusE.map((e) => [e.b[1], e.b[2], e.b[3], u32(e.b, 4), u32(e.b, 8)])).toEqual(
      [...Array(cpus).keys()].map((i) => [i, 0x14, i === 0 ? 3 : 1, CPU_SIGNATURE, CPU_FEATURES]),
    );
    const bus = entries.filter((e) => e.type === 1);
    expect(bus.map((e) => [e.b[1], Buffer.from(e.b.subarray(2, 8)).toString('latin1')])).toEqual([[0, 'ISA   ']]);
    const io = entries.filter((e) => e.type === 2);
    expect(io.map((e) => [e.b[1], e.b[2], e.b[3], u32(e.b, 4)])).toEqual([[0, 0x11, 1, 0xfec00000]]);

    const ints = entries.filter((e) => e.type === 3).map((e) => ({
      type: e.b[1], flags: e.b[2]! | (e.b[3]! << 8), bus: e.b[4], irq: e.b[5], apic: e.b[6], pin: e.b[7],
    }));
    expect(ints.map((i) => i.irq)).toEqual([0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    for (const i of ints) {
      expect(i).toMatchObject({ type: 0, bus: 0, apic: 0, pin: i.irq === 0 ? 2 : i.irq, flags: i.irq === 9 ? 0xd : 0 });
    }
    const locals = entries.filter((e) => e.type === 4).map((e) => [...e.b]);
    expect(locals).toEqual([
      [4, 3, 0, 0, 0, 0, 0, 0], // ExtINT -> BSP LINT0
      [4, 1, 0, 0, 0, 0, 0xff, 1], // NMI -> all LINT1
    ]);
  });

  it('describes PCI bus 0 and its INTx routes as level, active-high IOAPIC inputs', () => {
    const m = GuestMemory.anonymous(pcLayout(4 * MiB));
    buildMpTable(m, { cpus: 1, pciRoutes: [{ mpSourceIrq: (3 << 2) | 0, ioapicPin: 19 }, { mpSourceIrq: (4 << 2) | 1, ioapicPin: 17 }] });
    const { entries } = parse(m);
    const buses = entries.filter((e) => e.type === 1).map((e) => [e.b[1], Buffer.from(e.b.subarray(2, 8)).toString('latin1')]);
    expect(buses).toEqual([[0, 'ISA   '], [1, 'PCI   ']]);
    const pci = entries.filter((e) => e.type === 3 && e.b[4] === 1);
    // type INT, flags 0x0d (polarity 01 active high, trigger 11 level), bus 1, IRQ, IOAPIC 0, pin
    expect(pci.map((e) => [e.b[1], e.b[2]! | (e.b[3]! << 8), e.b[5], e.b[6], e.b[7]])).toEqual([
      [0, 0x0d, 12, 0, 19],
      [0, 0x0d, 17, 0, 17],
    ]);
  });

  it('lists only the first 255 of 300 CPUs (8-bit APIC IDs)', () => {
    const m = GuestMemory.anonymous(pcLayout(4 * MiB));
    expect(buildMpTable(m, { cpus: 300 }).listedCpus).toBe(255);
    const cpus = parse(m).entries.filter((e) => e.type === 0);
    expect(cpus).toHaveLength(255);
    expect(cpus.at(-1)!.b[1]).toBe(254);
  });

  it('honours a different IOAPIC ID everywhere it appears', () => {
    const m = GuestMemory.anonymous(pcLayout(4 * MiB));
    buildMpTable(m, { cpus: 2, ioapicId: 2 });
    const { entries } = parse(m);
    expect(entries.find((e) => e.type === 2)!.b[1]).toBe(2);
    expect(entries.filter((e) => e.type === 3).every((e) => e.b[6] === 2)).toBe(true);
  });

  it('rejects a bad CPU count or a window too small', () => {
    const m = GuestMemory.anonymous(pcLayout(4 * MiB));
    expect(() => buildMpTable(m, { cpus: 0 })).toThrow(TableLayoutError);
    expect(() => buildMpTable(m, { cpus: 8, start: 0xf0000, end: 0xf0040 })).toThrow(TableLayoutError);
  });
});
