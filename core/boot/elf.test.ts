import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { loadElfSegments, parseElf, physicalEntry, PT_LOAD, PT_NOTE } from './elf.js';
import { BootLayoutError, ElfFormatError } from './errors.js';
import { buildElf } from './synthetic.js';

const code = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

function elf64(overrides: { memsz?: number; paddr?: number } = {}): Uint8Array {
  return buildElf({
    elfClass: 64,
    entry: 0xffffffff81000010n,
    segments: [{ paddr: overrides.paddr ?? 0x100000, vaddr: 0xffffffff81000000n, data: code, memsz: overrides.memsz ?? 0x2000 }],
    notes: [
      { name: 'Xen', type: 18, desc: Uint8Array.of(0x00, 0x00, 0x10, 0x00) },
      { name: 'GNU', type: 3, desc: Uint8Array.of(1, 2, 3, 4, 5) },
    ],
  });
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

describe('parseElf', () => {
  it('parses an ELF64 kernel with PT_LOAD and PT_NOTE', () => {
    const elf = parseElf(elf64());
    expect(elf.elfClass).toBe(64);
    expect(elf.machine).toBe(62);
    expect(elf.entry).toBe(0xffffffff81000010n);
    expect(elf.loads).toHaveLength(1);
    expect(elf.loads[0]).toMatchObject({ type: PT_LOAD, paddr: 0x100000, filesz: 64, memsz: 0x2000 });
    expect(elf.segments.map((s) => s.type)).toEqual([PT_LOAD, PT_NOTE]);
    expect(elf.notes.map((n) => [n.name, n.type, n.desc.length])).toEqual([
      ['Xen', 18, 4],
      ['GNU', 3, 5],
    ]);
    expect(physicalEntry(elf)).toBe(0x100010);
  });

  it('parses an ELF32 kernel', () => {
    const elf = parseElf(buildElf({ elfClass: 32, entry: 0x100000n, segments: [{ paddr: 0x100000, data: code }] }));
    expect(elf.elfClass).toBe(32);
    expect(elf.machine).toBe(3);
    expect(physicalEntry(elf)).toBe(0x100000);
  });

  const hostile: [string, (b: Uint8Array) => Uint8Array][] = [
    ['truncated file header', (b) => b.subarray(0, 40)],
    ['just the magic', (b) => b.subarray(0, 4)],
    ['bad class', (b) => ((b[4] = 7), b)],
    ['big-endian', (b) => ((b[5] = 2), b)],
    ['non-x86 machine', (b) => (dv(b).setUint16(18, 40, true), b)],
    ['relocatable object', (b) => (dv(b).setUint16(16, 1, true), b)],
    ['no program headers', (b) => (dv(b).setUint16(56, 0, true), b)],
    ['PN_XNUM', (b) => (dv(b).setUint16(56, 0xffff, true), b)],
    ['phentsize too small', (b) => (dv(b).setUint16(54, 8, true), b)],
    ['phdr table beyond file', (b) => (dv(b).setBigUint64(32, 0x100000n, true), b)],
    ['phdr offset beyond 2^53', (b) => (dv(b).setBigUint64(32, 0xffffffffffffff00n, true), b)],
    ['segment data beyond file', (b) => (dv(b).setBigUint64(64 + 8, 0x100000n, true), b)],
    ['filesz beyond file', (b) => (dv(b).setBigUint64(64 + 32, 0x100000n, true), dv(b).setBigUint64(64 + 40, 0x100000n, true), b)],
    ['filesz > memsz', (b) => (dv(b).setBigUint64(64 + 40, 8n, true), b)],
    ['paddr + memsz overflows', (b) => (dv(b).setBigUint64(64 + 24, 0x1fffffffffffffn, true), b)],
    ['note segment beyond file', (b) => (dv(b).setBigUint64(64 + 56 + 32, 0x10000n, true), b)],
    ['note runs past its segment', (b) => (dv(b).setUint32(64 + 2 * 56 + 4, 0x1000, true), b)],
    ['truncated note header', (b) => (dv(b).setBigUint64(64 + 56 + 32, 6n, true), b)],
    ['unterminated note name', (b) => ((b[64 + 2 * 56 + 12 + 3] = 0x41), b)],
    ['empty file', () => new Uint8Array(0)],
  ];
  for (const [name, mutate] of hostile) {
    it(`rejects ${name} with ElfFormatError`, () => {
      const run = (): unknown => parseElf(mutate(elf64().slice()));
      expect(run).toThrow(ElfFormatError);
      if (process.env.SHOW_ERRORS) {
        try {
          run();
        } catch (e) {
          console.log(name, '->', (e as Error).message);
        }
      }
    });
  }
});

describe('loadElfSegments', () => {
  it('copies file bytes to p_paddr and zeroes the bss', () => {
    const mem = GuestMemory.anonymous(pcLayout(8 * MiB));
    mem.fill(0x100000, 0x3000, 0xaa);
    const bytes = elf64();
    const extent = loadElfSegments(mem, parseElf(bytes), bytes);
    expect(extent).toEqual({ low: 0x100000, high: 0x102000 });
    expect([...mem.read(0x100000, 64)]).toEqual([...code]);
    expect(mem.read(0x100040, 0x2000 - 64).every((b) => b === 0)).toBe(true);
    expect(mem.readU8(0x102000)).toBe(0xaa);
  });

  it('rejects a segment outside RAM or a huge memsz with BootLayoutError, writing nothing', () => {
    const mem = GuestMemory.anonymous(pcLayout(8 * MiB));
    for (const bytes of [elf64({ paddr: 0x7ff000 }), elf64({ paddr: 0xc0000000 }), elf64({ memsz: 2 ** 40 })]) {
      expect(() => loadElfSegments(mem, parseElf(bytes), bytes)).toThrow(BootLayoutError);
    }
    expect(mem.read(0x100000, 64).every((b) => b === 0)).toBe(true);
  });
});
