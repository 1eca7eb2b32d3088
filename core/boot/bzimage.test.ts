import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { BP, CMDLINE_ADDR, HEAP_END_PTR, loadBzImage, ZERO_PAGE_ADDR } from './bzimage.js';
import { HDR } from './bzimage-header.js';
import { BootInputError, BootLayoutError, BzImageFormatError } from './errors.js';
import { BOOT_GDT_ADDR, GDT_CODE64, GDT_DATA, PD_ADDR, PDPT_ADDR, PML4_ADDR } from './long-mode.js';
import { buildBzImage, type SyntheticBzImage } from './synthetic.js';
import type { BootInput } from './types.js';

function input(kernel: Uint8Array, extra: Partial<BootInput> = {}): BootInput {
  return { kernel, cmdline: 'console=ttyS0 root=/dev/ram0', modules: [], rsdpAddr: 0xe0000, ...extra };
}

function load(spec: SyntheticBzImage = {}, extra: Partial<BootInput> = {}, ramMiB = 64) {
  const mem = GuestMemory.anonymous(pcLayout(ramMiB * MiB));
  const kernel = buildBzImage(spec);
  return { mem, kernel, state: loadBzImage(mem, input(kernel, extra)) };
}

describe('loadBzImage', () => {
  it('builds boot_params, page tables and GDT for the 64-bit entry', () => {
    const initrd = new Uint8Array(0x5000).fill(0x77);
    const { mem, kernel, state } = load({}, { modules: [{ data: initrd }] });
    const bp = ZERO_PAGE_ADDR;

    // Relocatable with a usable pref_address: loaded at 16 MiB, entered at startup_64.
    expect(state).toMatchObject({ mode: 'long64', rip: 0x1000200, cr3: PML4_ADDR, codeSelector: 0x10, dataSelector: 0x18 });
    expect(state.regs.rsi).toBe(bp);
    expect(state.gdt).toEqual({ base: BOOT_GDT_ADDR, limit: 31 });
    expect([...mem.read(0x1000000, 0x3000)]).toEqual([...kernel.subarray(5 * 512)]);

    // Setup header copied verbatim except the fields the loader owns.
    const owned = new Set<number>();
    const own = (off: number, len: number): void => {
      for (let i = 0; i < len; i++) owned.add(off + i);
    };
    own(HDR.vidMode, 2);
    own(HDR.typeOfLoader, 1);
    own(HDR.loadflags, 1);
    own(HDR.code32Start, 4);
    own(HDR.ramdiskImage, 8);
    own(HDR.heapEndPtr, 2);
    own(HDR.cmdLinePtr, 4);
    own(HDR.setupData, 8);
    for (let off = 0x1f1; off < 0x26c; off++) {
      if (!owned.has(off)) expect([off, mem.readU8(bp + off)]).toEqual([off, kernel[off]]);
    }
    expect(mem.readU8(bp + 0x26c)).toBe(0);
    expect(mem.readU16(bp + HDR.vidMode)).toBe(0xffff);
    expect(mem.readU8(bp + HDR.typeOfLoader)).toBe(0xff);
    expect(mem.readU8(bp + HDR.loadflags)).toBe(0x81);
    expect(mem.readU16(bp + HDR.heapEndPtr)).toBe(HEAP_END_PTR);
    expect(mem.readU32(bp + HDR.code32Start)).toBe(0x1000000);
    expect(mem.readU64(bp + HDR.setupData)).toBe(0n);
    expect(mem.readU32(bp + HDR.cmdLinePtr)).toBe(CMDLINE_ADDR);
    expect(mem.readU32(bp + BP.extCmdLinePtr)).toBe(0);
    expect(mem.readCString(CMDLINE_ADDR)).toBe('console=ttyS0 root=/dev/ram0');
    expect(mem.readU64(bp + BP.acpiRsdpAddr)).toBe(0xe0000n);

    // initrd: page aligned, as high as possible in low RAM, above the kernel's init_size footprint.
    const rd = mem.readU32(bp + HDR.ramdiskImage);
    expect(mem.readU32(bp + HDR.ramdiskSize)).toBe(0x5000);
    expect(rd % 0x1000).toBe(0);
    expect(rd + 0x5000).toBeLessThanOrEqual(64 * MiB);
    expect(rd + 0x5000).toBeGreaterThan(64 * MiB - 0x1000);
    expect(rd).toBeGreaterThanOrEqual(0x1000000 + 0x800000);
    expect(mem.read(rd, 0x5000).every((b) => b === 0x77)).toBe(true);
    expect(mem.readU32(bp + BP.extRamdiskImage)).toBe(0);

    // e820 table.
    const e820 = mem.layout.e820;
    expect(mem.readU8(bp + BP.e820Entries)).toBe(e820.length);
    e820.forEach((e, i) => {
      const at = bp + BP.e820Table + i * 20;
      expect(mem.readU64(at)).toBe(BigInt(e.addr));
      expect(mem.readU64(at + 8)).toBe(BigInt(e.size));
      expect(mem.readU32(at + 16)).toBe(e.type);
    });

    // GDT: null, null, 64-bit code at 0x10, data at 0x18.
    expect(mem.readU64(BOOT_GDT_ADDR)).toBe(0n);
    expect(mem.readU64(BOOT_GDT_ADDR + 0x10)).toBe(GDT_CODE64);
    expect(mem.readU64(BOOT_GDT_ADDR + 0x18)).toBe(GDT_DATA);
    expect(GDT_CODE64).toBe(0x00af9b000000ffffn);
    expect(GDT_DATA).toBe(0x00cf93000000ffffn);

    // Identity map of 4 GiB with 2 MiB pages.
    expect(mem.readU64(PML4_ADDR)).toBe(BigInt(PDPT_ADDR | 3));
    expect(mem.readU64(PML4_ADDR + 8)).toBe(0n);
    for (let i = 0; i < 4; i++) expect(mem.readU64(PDPT_ADDR + i * 8)).toBe(BigInt((PD_ADDR + i * 0x1000) | 3));
    expect(mem.readU64(PDPT_ADDR + 32)).toBe(0n);
    expect(mem.readU64(PD_ADDR)).toBe(0x83n);
    expect(mem.readU64(PD_ADDR + 8)).toBe(0x200083n);
    expect(mem.readU64(PD_ADDR + 3 * 0x1000 + 511 * 8)).toBe(0xffe00083n);
  });

  it('loads a non-relocatable kernel at 1 MiB and honours setup_sects 0 = 4', () => {
    const { mem, kernel, state } = load({ relocatable: false, setupSects: 0 });
    expect(state.rip).toBe(0x100200);
    expect(mem.readU8(0x100000)).toBe(kernel[5 * 512]);
    expect(mem.readU32(ZERO_PAGE_ADDR + HDR.ramdiskImage)).toBe(0);
  });

  it('falls back to 1 MiB when pref_address is unusable', () => {
    const { state } = load({ prefAddress: 0x1234567n, initSize: 0x100000 });
    expect(state.rip).toBe(0x100200);
  });

  it('keeps the initrd below initrd_addr_max', () => {
    const { mem } = load({ initrdAddrMax: 0x1ffffff }, { modules: [{ data: new Uint8Array(0x3000) }] });
    const rd = mem.readU32(ZERO_PAGE_ADDR + HDR.ramdiskImage);
    expect(rd + 0x3000).toBeLessThanOrEqual(0x2000000);
    expect(rd).toBe(0x2000000 - 0x3000);
  });

  const badImages: [string, SyntheticBzImage, RegExp][] = [
    ['an old boot protocol', { version: 0x020a }, /too old/],
    ['a 32-bit kernel', { xloadflags: 0 }, /XLF_KERNEL_64/],
    ['an implausible header length', { headerLenByte: 0xff }, /implausible/],
    ['a too-short header', { headerLenByte: 0x20 }, /implausible/],
    ['a non power-of-two alignment', { kernelAlignment: 0x300000 }, /power of two/],
  ];
  for (const [name, spec, msg] of badImages) {
    it(`rejects ${name} with BzImageFormatError`, () => {
      expect(() => load(spec)).toThrow(BzImageFormatError);
      expect(() => load(spec)).toThrow(msg);
    });
  }

  it('rejects truncated images and a bad boot flag', () => {
    const mem = GuestMemory.anonymous(pcLayout(64 * MiB));
    const k = buildBzImage();
    for (const len of [0x206, 0x210, 0x237, 0x25a]) {
      expect(() => loadBzImage(mem, input(k.slice(0, len)))).toThrow(BzImageFormatError);
    }
    const bad = k.slice();
    bad[0x1fe] = 0;
    expect(() => loadBzImage(mem, input(bad))).toThrow(/boot_flag/);
    const noKernel = k.slice();
    noKernel[0x1f1] = 200; // setup sectors would cover the whole file
    expect(() => loadBzImage(mem, input(noKernel))).toThrow(/no protected-mode kernel/);
  });

  it('rejects a command line longer than cmdline_size with BootInputError', () => {
    expect(() => load({ cmdlineSize: 10 })).toThrow(BootInputError);
    expect(() => load({ cmdlineSize: 10 })).toThrow(/at most 10/);
    expect(() => load({}, { cmdline: 'a\0b' })).toThrow(/NUL/);
  });

  it('rejects more than one initrd', () => {
    const m = { data: new Uint8Array(1) };
    expect(() => load({}, { modules: [m, m] })).toThrow(BootInputError);
  });

  it('rejects a kernel or initrd that does not fit in RAM with BootLayoutError', () => {
    expect(() => load({ initSize: 0x7000000 })).toThrow(BootLayoutError);
    expect(() => load({}, { modules: [{ data: new Uint8Array(48 * MiB) }] })).toThrow(BootLayoutError);
    expect(() => load({}, {}, 8)).toThrow(/give the machine more memory/);
  });
});
