import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { buildAcpiTables } from './acpi.js';
import { byteSum, TableLayoutError } from './encode.js';
import { FADT, FADT_FLAG, S5_SLP_TYP } from './fadt.js';
import { buildFirmwareTables } from './index.js';

const mem = (): GuestMemory => GuestMemory.anonymous(pcLayout(16 * MiB));
const ascii = (m: GuestMemory, addr: number, len: number): string => Buffer.from(m.read(addr, len)).toString('latin1');

/** Parse an SDT at addr, checking length and checksum; returns signature and body view. */
function sdt(m: GuestMemory, addr: number): { sig: string; rev: number; len: number; bytes: Uint8Array } {
  const len = m.readU32(addr + 4);
  expect(len).toBeGreaterThanOrEqual(36);
  const bytes = m.read(addr, len);
  expect(byteSum(bytes)).toBe(0);
  expect(ascii(m, addr + 10, 6)).toBe('IRQBCH');
  return { sig: ascii(m, addr, 4), rev: bytes[8]!, len, bytes };
}

/** What Linux does without a hint: scan 0xE0000-0xFFFFF on 16-byte boundaries. */
function scanRsdp(m: GuestMemory): number[] {
  const hits: number[] = [];
  for (let a = 0xe0000; a < 0x100000; a += 16) if (ascii(m, a, 8) === 'RSD PTR ') hits.push(a);
  return hits;
}

interface Parsed {
  rsdp: number;
  byName: Map<string, ReturnType<typeof sdt> & { addr: number }>;
  xsdtEntries: number[];
  rsdtEntries: number[];
}

function parseAll(m: GuestMemory): Parsed {
  const [rsdp, ...more] = scanRsdp(m);
  expect(more).toEqual([]);
  expect(rsdp).toBeDefined();
  const r = m.read(rsdp!, 36);
  expect(byteSum(r.subarray(0, 20))).toBe(0);
  expect(byteSum(r)).toBe(0);
  expect(r[15]).toBe(2);
  expect(m.readU32(rsdp! + 20)).toBe(36);
  expect(ascii(m, rsdp! + 9, 6)).toBe('IRQBCH');
  const xsdtAddr = Number(m.readU64(rsdp! + 24));
  const rsdtAddr = m.readU32(rsdp! + 16);
  const xsdt = sdt(m, xsdtAddr);
  const rsdt = sdt(m, rsdtAddr);
  expect([xsdt.sig, rsdt.sig]).toEqual(['XSDT', 'RSDT']);
  const xsdtEntries = [...Array((xsdt.len - 36) / 8).keys()].map((i) => Number(m.readU64(xsdtAddr + 36 + i * 8)));
  const rsdtEntries = [...Array((rsdt.len - 36) / 4).keys()].map((i) => m.readU32(rsdtAddr + 36 + i * 4));
  const byName = new Map<string, ReturnType<typeof sdt> & { addr: number }>();
  for (const a of xsdtEntries) {
    const t = sdt(m, a);
    byName.set(t.sig, { ...t, addr: a });
  }
  const fadt = byName.get('FACP')!;
  const dsdtAddr = Number(m.readU64(fadt.addr + FADT.xDsdt));
  expect(m.readU32(fadt.addr + FADT.dsdt)).toBe(dsdtAddr);
  byName.set('DSDT', { ...sdt(m, dsdtAddr), addr: dsdtAddr });
  return { rsdp: rsdp!, byName, xsdtEntries, rsdtEntries };
}

interface MadtEntry {
  type: number;
  bytes: Uint8Array;
}
function madtEntries(t: { bytes: Uint8Array; len: number }): MadtEntry[] {
  const out: MadtEntry[] = [];
  for (let at = 44; at < t.len; ) {
    const len = t.bytes[at + 1]!;
    expect(len).toBeGreaterThan(1);
    out.push({ type: t.bytes[at]!, bytes: t.bytes.subarray(at, at + len) });
    at += len;
  }
  return out;
}
const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

describe('buildAcpiTables', () => {
  it('writes checksummed RSDP, XSDT, RSDT, FADT, FACS, DSDT and MADT', () => {
    const m = mem();
    const res = buildAcpiTables(m, { cpus: 2 });
    const p = parseAll(m);
    expect(p.rsdp).toBe(res.rsdpAddr);
    expect(res.rsdpAddr).toBe(0xe0000);
    expect(p.rsdtEntries).toEqual(p.xsdtEntries);
    expect([...p.byName.keys()].sort()).toEqual(['APIC', 'DSDT', 'FACP']);
    expect(res.end).toBeLessThanOrEqual(0xf0000);
    for (const t of res.tables) expect(t.addr % 16).toBe(0);

    const fadt = p.byName.get('FACP')!;
    expect(fadt.rev).toBe(6);
    expect(fadt.len).toBe(276);
    const f = dv(fadt.bytes);
    expect(f.getUint16(FADT.sciInt, true)).toBe(9);
    expect(f.getUint32(FADT.smiCmd, true)).toBe(0);
    expect(f.getUint32(FADT.pm1aEvtBlk, true)).toBe(0x600);
    expect(f.getUint32(FADT.pm1aCntBlk, true)).toBe(0x604);
    expect(fadt.bytes[FADT.pm1EvtLen]).toBe(4);
    expect(fadt.bytes[FADT.pm1CntLen]).toBe(2);
    expect(f.getUint32(FADT.pmTmrBlk, true)).toBe(0);
    expect(f.getUint32(FADT.flags, true) & FADT_FLAG.HW_REDUCED_ACPI).toBe(0);
    expect(Number(f.getBigUint64(FADT.xPm1aEvtBlk + 4, true))).toBe(0x600);
    expect(fadt.bytes[FADT.xPm1aEvtBlk]).toBe(1); // system I/O
    expect(fadt.bytes[FADT.xPm1aEvtBlk + 1]).toBe(32);
    expect(f.getUint16(FADT.pLvl2Lat, true)).toBeGreaterThan(100);
    expect(f.getUint16(FADT.pLvl3Lat, true)).toBeGreaterThan(1000);

    const facs = f.getUint32(FADT.firmwareCtrl, true);
    expect(Number(f.getBigUint64(FADT.xFirmwareCtrl, true))).toBe(facs);
    expect(facs % 64).toBe(0);
    expect(ascii(m, facs, 4)).toBe('FACS');
    expect(m.readU32(facs + 4)).toBe(64);

    const dsdt = p.byName.get('DSDT')!;
    expect([...dsdt.bytes.subarray(36)]).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, S5_SLP_TYP, 0x0a, S5_SLP_TYP, 0x00, 0x00]);
  });

  it.each([1, 2])('describes %i CPUs with xAPIC entries, the IOAPIC, overrides and NMI', (cpus) => {
    const m = mem();
    buildAcpiTables(m, { cpus });
    const madt = parseAll(m).byName.get('APIC')!;
    expect(m.readU32(madt.addr + 36)).toBe(0xfee00000);
    expect(m.readU32(madt.addr + 40)).toBe(1); // PCAT_COMPAT
    const entries = madtEntries(madt);
    const lapics = entries.filter((e) => e.type === 0);
    expect(lapics.map((e) => [e.bytes[1], e.bytes[2], e.bytes[3], dv(e.bytes).getUint32(4, true)])).toEqual(
      [...Array(cpus).keys()].map((i) => [8, i, i, 1]),
    );
    const ioapics = entries.filter((e) => e.type === 1);
    expect(ioapics).toHaveLength(1);
    const io = dv(ioapics[0]!.bytes);
    expect([io.getUint8(1), io.getUint8(2), io.getUint32(4, true), io.getUint32(8, true)]).toEqual([12, 0, 0xfec00000, 0]);
    const isos = entries.filter((e) => e.type === 2).map((e) => {
      const d = dv(e.bytes);
      return { len: d.getUint8(1), bus: d.getUint8(2), irq: d.getUint8(3), gsi: d.getUint32(4, true), flags: d.getUint16(8, true) };
    });
    expect(isos).toEqual([
      { len: 10, bus: 0, irq: 0, gsi: 2, flags: 0x5 },
      { len: 10, bus: 0, irq: 9, gsi: 9, flags: 0xd },
    ]);
    const nmis = entries.filter((e) => e.type === 4);
    expect(nmis.map((e) => [...e.bytes])).toEqual([[4, 6, 0xff, 0, 0, 1]]);
    expect(entries.some((e) => e.type === 9 || e.type === 0xa)).toBe(false);
  });

  it('uses x2APIC entries for APIC IDs above 254 (300 CPUs)', () => {
    const m = mem();
    buildAcpiTables(m, { cpus: 300 });
    const entries = madtEntries(parseAll(m).byName.get('APIC')!);
    const xapic = entries.filter((e) => e.type === 0);
    const x2apic = entries.filter((e) => e.type === 9);
    expect(xapic).toHaveLength(255);
    expect(xapic.at(-1)!.bytes[3]).toBe(254);
    expect(x2apic).toHaveLength(45);
    x2apic.forEach((e, i) => {
      const d = dv(e.bytes);
      expect([d.getUint8(1), d.getUint32(4, true), d.getUint32(8, true), d.getUint32(12, true)]).toEqual([16, 255 + i, 1, 255 + i]);
    });
    const x2nmi = entries.filter((e) => e.type === 0xa);
    expect(x2nmi).toHaveLength(1);
    const d = dv(x2nmi[0]!.bytes);
    expect([d.getUint8(1), d.getUint32(4, true), d.getUint8(8)]).toEqual([12, 0xffffffff, 1]);
  });

  it('lists caller-supplied tables in both root tables', () => {
    const m = mem();
    const mcfgBody = new Uint8Array(8 + 16);
    dv(mcfgBody).setBigUint64(8, 0xb0000000n, true);
    buildAcpiTables(m, { cpus: 1, extraTables: [{ signature: 'MCFG', revision: 1, body: mcfgBody }] });
    const p = parseAll(m);
    const mcfg = p.byName.get('MCFG')!;
    expect(mcfg.len).toBe(36 + 24);
    expect(mcfg.rev).toBe(1);
    expect(dv(mcfg.bytes).getBigUint64(44, true)).toBe(0xb0000000n);
    expect(p.rsdtEntries).toContain(mcfg.addr);
  });

  it('rejects impossible requests with TableLayoutError', () => {
    const m = mem();
    expect(() => buildAcpiTables(m, { cpus: 0 })).toThrow(TableLayoutError);
    expect(() => buildAcpiTables(m, { cpus: 1.5 })).toThrow(TableLayoutError);
    expect(() => buildAcpiTables(m, { cpus: 5000 })).toThrow(/do not fit/);
    expect(() => buildAcpiTables(m, { cpus: 1, extraTables: [{ signature: 'APIC', revision: 1, body: new Uint8Array() }] })).toThrow(TableLayoutError);
    expect(() => buildAcpiTables(m, { cpus: 1, extraTables: [{ signature: 'bad!', revision: 1, body: new Uint8Array() }] })).toThrow(TableLayoutError);
    expect(() => buildAcpiTables(m, { cpus: 1, start: 0xfff0000, end: 0x10010000 })).toThrow(TableLayoutError);
  });

  it('describes the caller\'s PCI host bridge in the DSDT and its routes in both tables', () => {
    const m = mem();
    const routes = [
      { device: 1, pin: 0, ioapicPin: 17, mpSourceIrq: (1 << 2) | 0 },
      { device: 2, pin: 1, ioapicPin: 19, mpSourceIrq: (2 << 2) | 1 },
    ];
    const window = { start: 0xc0000000, end: 0xe0000000 };
    const { mp } = buildFirmwareTables(m, { cpus: 1, pci: { routes, ecam: { start: 0xe0000000, end: 0xe0100000 }, mmio32: window } });
    const dsdt = Buffer.from(parseAll(m).byName.get('DSDT')!.bytes);
    for (const name of ['\\_SB_', 'PCI0', '_PRT', 'MRES']) expect(dsdt.includes(Buffer.from(name))).toBe(true);
    // _PRT entries: Package(4) { DWord 0x0001FFFF, Zero, Zero, Byte 17 } and { 0x0002FFFF, One, Zero, 19 }.
    expect(dsdt.includes(Buffer.from('12 0b 04 0c ff ff 01 00 00 00 0a 11'.replace(/ /g, ''), 'hex'))).toBe(true);
    expect(dsdt.includes(Buffer.from('12 0b 04 0c ff ff 02 00 01 00 0a 13'.replace(/ /g, ''), 'hex'))).toBe(true);
    // The MP table gets the same routes: a PCI bus entry and one I/O interrupt entry each.
    const plain = mem();
    const mpPlain = buildFirmwareTables(plain, { cpus: 1 }).mp;
    expect(m.readU16(mp.tableAddr + 34) - plain.readU16(mpPlain.tableAddr + 34)).toBe(1 + routes.length);
  });

  it('coexists with the MP table in the BIOS area', () => {
    const m = mem();
    const { acpi, mp, rsdpAddr } = buildFirmwareTables(m, { cpus: 4 });
    expect(rsdpAddr).toBe(acpi.rsdpAddr);
    expect(mp.floatingPointerAddr).toBeGreaterThanOrEqual(acpi.end);
    expect(ascii(m, mp.floatingPointerAddr, 4)).toBe('_MP_');
    expect(parseAll(m).rsdp).toBe(rsdpAddr); // ACPI still intact
  });
});
