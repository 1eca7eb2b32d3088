import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { BootLayoutError, PvhFormatError, UnsupportedImageError } from './errors.js';
import { loadKernel } from './index.js';
import { HVM_START_MAGIC_VALUE, loadPvh, MEMMAP_ENTRY, MODLIST_ENTRY, START_INFO } from './pvh.js';
import { buildElf, type SyntheticSegment } from './synthetic.js';
import type { BootInput } from './types.js';

const KERNEL_PADDR = 0x1000000;
const ENTRY = KERNEL_PADDR + 0x40;

function pvhKernel(opts: { desc?: Uint8Array; segments?: SyntheticSegment[] } = {}): Uint8Array {
  return buildElf({
    elfClass: 64,
    entry: 0xffffffff81000000n,
    segments: opts.segments ?? [
      { paddr: KERNEL_PADDR, vaddr: 0xffffffff81000000n, data: new Uint8Array(0x200).fill(0x90), memsz: 0x5000 },
    ],
    notes: [{ name: 'Xen', type: 18, desc: opts.desc ?? Uint8Array.of(0x40, 0x00, 0x00, 0x01) }],
  });
}

function input(kernel: Uint8Array, extra: Partial<BootInput> = {}): BootInput {
  return { kernel, cmdline: 'console=ttyS0 earlyprintk', modules: [], rsdpAddr: 0xe0000, ...extra };
}

describe('loadPvh', () => {
  it('loads the segments and builds hvm_start_info field by field', () => {
    const mem = GuestMemory.anonymous(pcLayout(64 * MiB));
    const initrd = new Uint8Array(0x1234).fill(0x11);
    const extra = new Uint8Array(0x20).fill(0x22);
    const state = loadPvh(mem, input(pvhKernel(), { modules: [{ data: initrd }, { data: extra, cmdline: 'mod1 arg' }] }));

    expect(state.mode).toBe('protected32');
    expect(state.rip).toBe(ENTRY);
    const si = state.regs.rbx!;
    expect(si % 8).toBe(0);
    expect(si).toBeGreaterThanOrEqual(0x1000);
    expect(si + START_INFO.size).toBeLessThanOrEqual(0x9f000);

    expect(mem.readU32(si + START_INFO.magic)).toBe(HVM_START_MAGIC_VALUE);
    expect(mem.readU32(si + START_INFO.version)).toBe(1);
    expect(mem.readU32(si + START_INFO.flags)).toBe(0);
    expect(mem.readU32(si + START_INFO.nrModules)).toBe(2);
    expect(mem.readU64(si + START_INFO.rsdpPaddr)).toBe(0xe0000n);
    expect(mem.readU32(si + START_INFO.reserved)).toBe(0);
    expect(mem.readCString(Number(mem.readU64(si + START_INFO.cmdlinePaddr)))).toBe('console=ttyS0 earlyprintk');

    // Kernel bytes at p_paddr, bss zeroed.
    expect(mem.readU8(KERNEL_PADDR)).toBe(0x90);
    expect(mem.readU8(KERNEL_PADDR + 0x200)).toBe(0);

    const modlist = Number(mem.readU64(si + START_INFO.modlistPaddr));
    const mod0 = Number(mem.readU64(modlist + MODLIST_ENTRY.paddr));
    const mod1 = Number(mem.readU64(modlist + MODLIST_ENTRY.size_ + MODLIST_ENTRY.paddr));
    expect(mod0 % 0x1000).toBe(0);
    expect(mod0).toBeGreaterThanOrEqual(KERNEL_PADDR + 0x5000);
    expect(mem.readU64(modlist + MODLIST_ENTRY.size)).toBe(0x1234n);
    expect(mem.readU64(modlist + MODLIST_ENTRY.cmdlinePaddr)).toBe(0n);
    expect(mem.readU64(modlist + MODLIST_ENTRY.reserved)).toBe(0n);
    expect(mod1 % 0x1000).toBe(0);
    expect(mod1).toBeGreaterThanOrEqual(mod0 + 0x1234);
    expect(mem.readU64(modlist + MODLIST_ENTRY.size_ + MODLIST_ENTRY.size)).toBe(0x20n);
    const mod1Cmd = Number(mem.readU64(modlist + MODLIST_ENTRY.size_ + MODLIST_ENTRY.cmdlinePaddr));
    expect(mem.readCString(mod1Cmd)).toBe('mod1 arg');
    expect(mem.read(mod0, 0x1234).every((b) => b === 0x11)).toBe(true);
    expect(mem.read(mod1, 0x20).every((b) => b === 0x22)).toBe(true);

    const memmap = Number(mem.readU64(si + START_INFO.memmapPaddr));
    const e820 = mem.layout.e820;
    expect(mem.readU32(si + START_INFO.memmapEntries)).toBe(e820.length);
    e820.forEach((e, i) => {
      const at = memmap + i * MEMMAP_ENTRY.size_;
      expect(mem.readU64(at + MEMMAP_ENTRY.addr)).toBe(BigInt(e.addr));
      expect(mem.readU64(at + MEMMAP_ENTRY.size)).toBe(BigInt(e.size));
      expect(mem.readU32(at + MEMMAP_ENTRY.type)).toBe(e.type);
      expect(mem.readU32(at + MEMMAP_ENTRY.reserved)).toBe(0);
    });
  });

  it('accepts an 8-byte entry descriptor and no modules', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const state = loadPvh(mem, input(pvhKernel({ desc: Uint8Array.of(0x40, 0, 0, 1, 0, 0, 0, 0) })));
    expect(state.rip).toBe(ENTRY);
    expect(mem.readU32(state.regs.rbx! + START_INFO.nrModules)).toBe(0);
    expect(mem.readU64(state.regs.rbx! + START_INFO.modlistPaddr)).toBe(0n);
  });

  it('keeps boot structures out of a kernel segment loaded in low memory', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const kernel = pvhKernel({
      segments: [
        { paddr: 0x1000, data: new Uint8Array(0x100).fill(0x55), memsz: 0x3000 },
        { paddr: KERNEL_PADDR, data: new Uint8Array(0x100), memsz: 0x1000 },
      ],
    });
    const state = loadPvh(mem, input(kernel));
    expect(state.regs.rbx!).toBeGreaterThanOrEqual(0x4000);
    expect(mem.readU8(0x1000)).toBe(0x55);
  });

  it('rejects bad entry notes with PvhFormatError', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    expect(() => loadPvh(mem, input(pvhKernel({ desc: Uint8Array.of(1, 2) })))).toThrow(PvhFormatError);
    expect(() => loadPvh(mem, input(pvhKernel({ desc: Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0) })))).toThrow(/above 4 GiB/);
    expect(() => loadPvh(mem, input(pvhKernel({ desc: Uint8Array.of(0, 0, 0, 2) })))).toThrow(/not inside any PT_LOAD/);
  });

  it('rejects a module that does not fit with BootLayoutError', () => {
    const mem = GuestMemory.anonymous(pcLayout(20 * MiB));
    const big = new Uint8Array(8 * MiB);
    expect(() => loadPvh(mem, input(pvhKernel(), { modules: [{ data: big }] }))).toThrow(BootLayoutError);
  });

  it('rejects a kernel linked outside RAM with BootLayoutError', () => {
    const mem = GuestMemory.anonymous(pcLayout(8 * MiB));
    expect(() => loadPvh(mem, input(pvhKernel()))).toThrow(BootLayoutError);
  });

  it('names what it found when asked to boot a non-PVH ELF as PVH', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    const plain = buildElf({ elfClass: 64, entry: 0x100000n, segments: [{ paddr: 0x100000, data: new Uint8Array(16) }] });
    expect(() => loadKernel(mem, input(plain), 'pvh')).toThrow(UnsupportedImageError);
    expect(() => loadKernel(mem, input(plain), 'pvh')).toThrow(/ELF64 x86-64 kernel.*CONFIG_PVH/);
  });
});
