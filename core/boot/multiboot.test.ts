import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { BootLayoutError, ElfFormatError, MultibootFormatError } from './errors.js';
import { MBI, MBI_CMDLINE, MBI_LOADER_NAME, MBI_MEMORY, MBI_MMAP, MBI_MODS, MMAP_ENTRY, MOD_ENTRY, loadMultiboot } from './multiboot.js';
import { buildAoutKernel, buildElf, buildMultibootHeader } from './synthetic.js';
import type { BootInput } from './types.js';

function input(kernel: Uint8Array, extra: Partial<BootInput> = {}): BootInput {
  return { kernel, cmdline: 'mbkernel --verbose', modules: [], rsdpAddr: 0xe0000, ...extra };
}

/** ELF32 linked at 0xC0100000 virtual / 0x100000 physical with a multiboot header in its text. */
function mbElf(flags = 0x3, checksumDelta = 0): Uint8Array {
  const text = new Uint8Array(0x100).fill(0x90);
  text.set(buildMultibootHeader(flags, undefined, checksumDelta), 0);
  return buildElf({
    elfClass: 32,
    entry: 0xc0100010n,
    segments: [{ paddr: 0x100000, vaddr: 0xc0100000n, data: text, memsz: 0x3000 }],
  });
}

describe('loadMultiboot (ELF)', () => {
  it('loads ELF segments and builds multiboot_info field by field', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const modA = new Uint8Array(0x1800).fill(0xa5);
    const state = loadMultiboot(mem, input(mbElf(), { modules: [{ data: modA, cmdline: 'initrd.img' }, { data: Uint8Array.of(1, 2, 3) }] }));
    expect(state.mode).toBe('protected32');
    expect(state.rip).toBe(0x100010); // virtual entry translated through the segment
    expect(state.regs.rax).toBe(0x2badb002);
    const mbi = state.regs.rbx!;
    expect(mbi).toBeGreaterThanOrEqual(0x1000);
    expect(mbi).toBeLessThan(0x9f000);

    expect(mem.readU32(mbi + MBI.flags)).toBe(MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
    expect(mem.readU32(mbi + MBI.memLower)).toBe(640);
    expect(mem.readU32(mbi + MBI.memUpper)).toBe((32 - 1) * 1024);
    expect(mem.readCString(mem.readU32(mbi + MBI.cmdline))).toBe('mbkernel --verbose');
    expect(mem.readCString(mem.readU32(mbi + MBI.bootLoaderName))).toBe('irqbench');

    expect(mem.readU32(mbi + MBI.modsCount)).toBe(2);
    const mods = mem.readU32(mbi + MBI.modsAddr);
    const start0 = mem.readU32(mods + MOD_ENTRY.start);
    expect(start0 % 0x1000).toBe(0);
    expect(start0).toBeGreaterThanOrEqual(0x103000);
    expect(mem.readU32(mods + MOD_ENTRY.end)).toBe(start0 + 0x1800);
    expect(mem.readCString(mem.readU32(mods + MOD_ENTRY.string))).toBe('initrd.img');
    expect(mem.read(start0, 0x1800).every((b) => b === 0xa5)).toBe(true);
    const start1 = mem.readU32(mods + MOD_ENTRY.size + MOD_ENTRY.start);
    expect(start1 % 0x1000).toBe(0);
    expect(start1).toBeGreaterThanOrEqual(start0 + 0x1800);
    expect(mem.readU32(mods + MOD_ENTRY.size + MOD_ENTRY.end)).toBe(start1 + 3);
    expect(mem.readCString(mem.readU32(mods + MOD_ENTRY.size + MOD_ENTRY.string))).toBe('');

    const e820 = mem.layout.e820;
    expect(mem.readU32(mbi + MBI.mmapLength)).toBe(e820.length * 24);
    const mmap = mem.readU32(mbi + MBI.mmapAddr);
    e820.forEach((e, i) => {
      const at = mmap + i * MMAP_ENTRY.stride;
      expect(mem.readU32(at + MMAP_ENTRY.size)).toBe(20);
      expect(mem.readU64(at + MMAP_ENTRY.base)).toBe(BigInt(e.addr));
      expect(mem.readU64(at + MMAP_ENTRY.length)).toBe(BigInt(e.size));
      expect(mem.readU32(at + MMAP_ENTRY.type)).toBe(e.type);
    });
    expect(mem.readU8(0x100020)).toBe(0x90);
    expect(mem.readU8(0x100100)).toBe(0); // bss
  });

  it('rejects a bad checksum', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    expect(() => loadMultiboot(mem, input(mbElf(0x3, 1)))).toThrow(MultibootFormatError);
    expect(() => loadMultiboot(mem, input(mbElf(0x3, 1)))).toThrow(/bad checksum/);
  });

  it('refuses a required video mode and unknown required flags', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    expect(() => loadMultiboot(mem, input(mbElf(0x7)))).toThrow(/video mode/);
    expect(() => loadMultiboot(mem, input(mbElf(0x8)))).toThrow(MultibootFormatError);
    // Optional bits (16-31) other than the a.out kludge are ignored.
    expect(() => loadMultiboot(mem, input(mbElf(0x3 | (1 << 20))))).not.toThrow();
  });

  it('reports a broken ELF as an ElfFormatError', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const k = mbElf();
    new DataView(k.buffer).setUint32(28, 0x7fff0000, true); // e_phoff
    expect(() => loadMultiboot(mem, input(k))).toThrow(ElfFormatError);
  });

  it('rejects a non-ELF image without the a.out kludge', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const k = new Uint8Array(0x200);
    k.set(buildMultibootHeader(0x3), 0x10);
    expect(() => loadMultiboot(mem, input(k))).toThrow(/neither ELF nor/);
  });
});

describe('loadMultiboot (a.out kludge)', () => {
  it('loads from the header addresses and zeroes the bss', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    mem.fill(0x200000, 0x2000, 0xee);
    const k = buildAoutKernel(0x200000, { bss: 0x1000 });
    const state = loadMultiboot(mem, input(k));
    expect(state.rip).toBe(0x200000);
    expect([...mem.read(0x200000, k.length)]).toEqual([...k]);
    expect(mem.read(0x200000 + k.length, 0x1000).every((b) => b === 0)).toBe(true);
    expect(mem.readU8(0x200000 + k.length + 0x1000)).toBe(0xee);
    expect(state.regs).toMatchObject({ rax: 0x2badb002 });
  });

  const dv = (k: Uint8Array): DataView => new DataView(k.buffer);
  const hostile: [string, (k: Uint8Array) => void, RegExp][] = [
    ['load_end_addr beyond the file', (k) => dv(k).setUint32(0x40 + 20, 0x200000 + 0x10000, true), /beyond the end/],
    ['load_addr above header_addr', (k) => dv(k).setUint32(0x40 + 16, 0x300000, true), /load_addr/],
    ['header_addr too far above load_addr', (k) => dv(k).setUint32(0x40 + 12, 0x200000 + 0x1000, true), /exceeds/],
    ['bss_end below load_end', (k) => dv(k).setUint32(0x40 + 24, 0x200010, true), /bss_end_addr/],
    ['entry outside the image', (k) => dv(k).setUint32(0x40 + 28, 0x500000, true), /entry_addr/],
  ];
  for (const [name, mutate, msg] of hostile) {
    it(`rejects ${name}`, () => {
      const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
      const k = buildAoutKernel(0x200000);
      mutate(k);
      expect(() => loadMultiboot(mem, input(k))).toThrow(MultibootFormatError);
      expect(() => loadMultiboot(mem, input(k))).toThrow(msg);
    });
  }

  it('rejects an image placed outside RAM or a huge bss with BootLayoutError', () => {
    const mem = GuestMemory.anonymous(pcLayout(8 * MiB));
    expect(() => loadMultiboot(mem, input(buildAoutKernel(0x7ff000)))).toThrow(BootLayoutError);
    expect(() => loadMultiboot(mem, input(buildAoutKernel(0x100000, { bss: 0xf0000000 })))).toThrow(BootLayoutError);
  });

  it('rejects a header whose kludge fields run past 8 KiB', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const k = buildAoutKernel(0x200000, { headerOffset: 8192 - 16 });
    expect(() => loadMultiboot(mem, input(k))).toThrow(/8 KiB/);
  });
});
