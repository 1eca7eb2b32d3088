import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pciWindows } from '../machine/pci-platform.js';
import { GiB, MiB, pcLayout } from '../memory/layout.js';
import { DEFAULT_INTX_IOAPIC_PINS, IntxRouter } from '../pci/intx-routing.js';
import { encodeSdt } from './acpi-sdt.js';
import { namePath } from './aml.js';
import { buildDsdt, type AcpiPciHost } from './dsdt.js';
import { TableLayoutError } from './encode.js';

/** Routes as the host bridge computes them: slots 1-3, every pin, the default PIRQ pins. */
const router = new IntxRouter(DEFAULT_INTX_IOAPIC_PINS, () => ({ set: () => {} }));
const routes = [1, 2, 3].flatMap((dev) => [0, 1, 2, 3].map((pin) => router.route(0, dev, pin)));
const host = (ramSize = 512 * MiB): AcpiPciHost => {
  const w = pciWindows(pcLayout(ramSize));
  return { routes, ecam: { start: 0xe0000000, end: 0xe0100000 }, mmio32: w.mmio32, mmio64: w.mmio64 };
};
const contains = (hay: Uint8Array, needle: Uint8Array): boolean => Buffer.from(hay).includes(Buffer.from(needle));

describe('buildDsdt', () => {
  it('holds only \\_S5 without a PCI host bridge', () => {
    expect(Buffer.from(buildDsdt().body).toString('hex')).toBe('085f53355f1208040a050a050000');
  });

  it('adds \\_SB.PCI0 and its ECAM reservation after \\_S5', () => {
    const { body, revision } = buildDsdt(host());
    expect(revision).toBe(2);
    expect(Buffer.from(body.subarray(0, 14)).toString('hex')).toBe('085f53355f1208040a050a050000');
    expect(contains(body, namePath('\\_SB'))).toBe(true);
    for (const seg of ['PCI0', '_HID', '_CID', '_SEG', '_BBN', '_UID', '_CRS', '_PRT', 'MRES']) expect(contains(body, namePath(seg))).toBe(true);
  });

  it('places the 64-bit window above RAM and leaves it out when not given', () => {
    expect(pciWindows(pcLayout(6 * GiB)).mmio64.start).toBe(7 * GiB);
    expect(pciWindows(pcLayout(512 * MiB)).mmio64.start).toBe(4 * GiB);
    const without = buildDsdt({ ...host(), mmio64: undefined }).body;
    expect(buildDsdt(host()).body.length - without.length).toBe(46); // one QWord descriptor
  });

  it('rejects routes and windows it cannot describe', () => {
    const bad = (p: Partial<AcpiPciHost>) => () => buildDsdt({ ...host(), ...p });
    expect(bad({ routes: [{ device: 32, pin: 0, ioapicPin: 16 }] })).toThrow(TableLayoutError);
    expect(bad({ routes: [{ device: 1, pin: 4, ioapicPin: 16 }] })).toThrow(TableLayoutError);
    expect(bad({ routes: [routes[0]!, routes[0]!] })).toThrow(/twice/);
    expect(bad({ mmio32: { start: 0xc0000000, end: 0x100000001 } })).toThrow(TableLayoutError);
    expect(bad({ ecam: { start: 0xe0000000, end: 0xe0000000 } })).toThrow(TableLayoutError);
  });
});

// Decompile with ACPICA's iasl (Debian: acpica-tools) and read the ASL back.
const haveIasl = !spawnSync('iasl', ['-v'], { stdio: 'ignore' }).error;
if (!haveIasl) console.log('SKIP dsdt iasl: iasl is not installed (apt-get install acpica-tools)');

describe.skipIf(!haveIasl)('DSDT through iasl', () => {
  const withTempDir = <T>(f: (dir: string) => T): T => {
    const dir = mkdtempSync(join(tmpdir(), 'dsdt-'));
    try {
      return f(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const iasl = (dir: string, ...args: string[]): string => {
    const r = spawnSync('iasl', args, { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    return r.stdout + r.stderr;
  };
  const aml = encodeSdt(buildDsdt(host()));

  it('decompiles to the host bridge, its resources, the _PRT and the ECAM reservation', () => {
    const asl = withTempDir((dir) => {
      writeFileSync(join(dir, 'dsdt.aml'), aml);
      const log = iasl(dir, '-d', 'dsdt.aml');
      expect(log).not.toMatch(/\b(Error|Warning)\b/);
      return readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
    });
    // One line per ASL statement: join continuation lines, drop comments and spacing.
    const flat = asl.replace(/\/\/[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ');
    expect(flat).toContain('DefinitionBlock ("", "DSDT", 2, "IRQBCH", "IRQBENCH", 0x00000001)');
    expect(flat).toContain('Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })');
    expect(flat).toMatch(/Scope \(\\_SB\) \{ Device \(PCI0\) \{ Name \(_HID, EisaId \("PNP0A08"\) \) Name \(_CID, EisaId \("PNP0A03"\) \)/);
    expect(flat).toContain('Name (_SEG, Zero) Name (_BBN, Zero) Name (_UID, Zero)');

    const crs = /Device \(PCI0\).*?Name \(_CRS, ResourceTemplate \(\) \{(.*?)\}\)/.exec(flat)![1]!;
    const items = crs.trim().split(/ (?=\w+ \()/);
    expect(items).toEqual([
      'WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x0000, 0x0000, 0x0001, ,, )',
      'IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08, )',
      'WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8, ,, , TypeStatic, DenseTranslation)',
      'WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300, ,, , TypeStatic, DenseTranslation)',
      'DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000, ,, , AddressRangeMemory, TypeStatic)',
      'DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, 0xC0000000, 0xDFFFFFFF, 0x00000000, 0x20000000, ,, , AddressRangeMemory, TypeStatic)',
      'QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x0000000000000000, 0x0000000100000000, 0x00000008FFFFFFFF, 0x0000000000000000, 0x0000000800000000, ,, , AddressRangeMemory, TypeStatic)',
    ]);

    const prt = /Name \(_PRT, Package \(0x0C\) \{(.*?)\}\)/.exec(flat)![1]!;
    const entries = [...prt.matchAll(/Package \(0x04\) \{ (\w+), (\w+), (\w+), (\w+) \}/g)].map((m) => m.slice(1).join(' '));
    const pinName = ['Zero', 'One', '0x02', '0x03'];
    expect(entries).toEqual(
      routes.map((r) => `0x000${r.device}FFFF ${pinName[r.pin]} Zero 0x${r.ioapicPin.toString(16).toUpperCase()}`),
    );
    // The usual swizzle over GSIs 16-19: slot 1 INTA# -> line 1 -> GSI 17.
    expect(entries[0]).toBe('0x0001FFFF Zero Zero 0x11');

    expect(flat).toMatch(
      /Device \(MRES\) \{ Name \(_HID, EisaId \("PNP0C02"\) \) Name \(_CRS, ResourceTemplate \(\) \{ DWordMemory \(ResourceConsumer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, 0xE0000000, 0xE00FFFFF, 0x00000000, 0x00100000, ,, , AddressRangeMemory, TypeStatic\) \}\) \} \} \}/,
    );
  });

  it('recompiles to the same AML (iasl -oa), apart from the End Tag checksums iasl leaves 0', () => {
    const again = withTempDir((dir) => {
      writeFileSync(join(dir, 'dsdt.aml'), aml);
      iasl(dir, '-d', 'dsdt.aml');
      iasl(dir, '-oa', '-p', 'again', 'dsdt.dsl');
      return new Uint8Array(readFileSync(join(dir, 'again.aml')));
    });
    const ours = aml.subarray(36);
    const theirs = again.subarray(36);
    expect(theirs.length).toBe(ours.length);
    const diffs = [...ours.keys()].filter((i) => ours[i] !== theirs[i]);
    expect(diffs.length).toBe(2); // PCI0._CRS and MRES._CRS
    for (const i of diffs) expect([ours[i - 1], theirs[i]]).toEqual([0x79, 0]);
  });
});
