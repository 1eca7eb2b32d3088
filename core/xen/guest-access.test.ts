import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { pcLayout, MiB } from '../memory/layout.js';
import { GuestAccess, pagingContext, PagingMode, translate, type PagingContext } from './guest-access.js';
import { EFAULT } from './errno.js';

const P = 1n, RW = 2n, PS = 0x80n;
const mem = (): GuestMemory => GuestMemory.anonymous(pcLayout(16 * MiB));
const ctx = (mode: PagingMode, cr3: number, wp = true, pse = true): PagingContext => ({ mode, cr3: BigInt(cr3), wp, pse });

/** 4-level tables: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; high half PML4[511] -> PDPT 0x5000. */
function longTables(m: GuestMemory): void {
  m.writeU64(0x1000, 0x2000n | P | RW);
  m.writeU64(0x2000, 0x3000n | P | RW);
  m.writeU64(0x2000 + 8, 0n | P | RW | PS); // 1 GiB page at gva 1 GiB -> gpa 0
  m.writeU64(0x3000 + 2 * 8, 0x4000n | P | RW); // gva 4 MiB -> PT
  m.writeU64(0x3000 + 3 * 8, 0x600000n | P | RW | PS); // 2 MiB page
  m.writeU64(0x3000 + 4 * 8, 0x70_0000_0000n | P | RW); // PT beyond RAM
  m.writeU64(0x4000, 0x10000n | P | RW);
  m.writeU64(0x4000 + 8, 0x20000n | P | RW); // not contiguous with the previous page
  m.writeU64(0x4000 + 3 * 8, 0xfee00000n | P | RW); // MMIO
  m.writeU64(0x4000 + 4 * 8, 0x30000n | P); // read-only
  m.writeU64(0x1000 + 511 * 8, 0x5000n | P | RW);
  m.writeU64(0x5000, 0n | P | RW | PS);
}

describe('page-table walk', () => {
  it('translates 4 KiB, 2 MiB and 1 GiB pages in long mode, high half too', () => {
    const m = mem();
    longTables(m);
    const c = ctx(PagingMode.Long4, 0x1000);
    expect(translate(m, c, 0x400123, false)).toBe(0x10123);
    expect(translate(m, c, 0x401004, false)).toBe(0x20004);
    expect(translate(m, c, 0x600010, false)).toBe(0x600010);
    expect(translate(m, c, 0x40001234, false)).toBe(0x1234);
    expect(new GuestAccess(m, c).gpa(0xffffff8000001000n, 8, false)).toBe(0x1000);
  });

  it('reads and writes across a page boundary per page', () => {
    const m = mem();
    longTables(m);
    m.write(0x10ffc, Uint8Array.from([1, 2, 3, 4]));
    m.write(0x20000, Uint8Array.from([5, 6, 7, 8]));
    const g = new GuestAccess(m, ctx(PagingMode.Long4, 0x1000));
    expect(Array.from(g.read(0x400ffcn, 8) as Uint8Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(g.write(0x400ffe, Uint8Array.from([9, 9, 9, 9]))).toBe(0);
    expect(m.readU16(0x10ffe)).toBe(0x0909);
    expect(m.readU16(0x20000)).toBe(0x0909);
    expect(g.gpa(0x400ffc, 8, false)).toBe(-EFAULT); // not in one page
  });

  it('faults on bad entries, MMIO, tables outside RAM, non-canonical and read-only writes', () => {
    const m = mem();
    longTables(m);
    const g = new GuestAccess(m, ctx(PagingMode.Long4, 0x1000));
    expect(g.read(0x402000, 4)).toBe(-EFAULT); // PTE not present
    expect(g.read(0x401ffc, 8)).toBe(-EFAULT); // crosses into the unmapped page
    expect(g.read(0x403000, 4)).toBe(-EFAULT); // MMIO
    expect(g.read(0x800000, 4)).toBe(-EFAULT); // PT outside RAM
    expect(g.read(0x8000000000000000n, 4)).toBe(-EFAULT); // non-canonical
    expect(g.read(0x7fffffffffffn, 4)).toBe(-EFAULT); // PML4 entry not present
    expect(g.read(0x404000, 4)).toBeInstanceOf(Uint8Array);
    expect(g.write(0x404000, new Uint8Array(4))).toBe(-EFAULT);
    expect(new GuestAccess(m, ctx(PagingMode.Long4, 0x1000, false)).write(0x404000, new Uint8Array(4))).toBe(0);
    expect(g.read(0x400000, -1)).toBe(-EFAULT);
    expect(new GuestAccess(m, ctx(PagingMode.Unsupported, 0x1000)).read(0x400000, 1)).toBe(-EFAULT);
  });

  it('walks PAE and 2-level tables; paging off is identity bounded by RAM', () => {
    const m = mem();
    // PAE: PDPT at 0x8000 (32-byte aligned), PD 0x9000, PT 0xa000
    m.writeU64(0x8000, 0x9000n | P);
    m.writeU64(0x9000 + 8, 0x200000n | P | RW | PS);
    m.writeU64(0x9000, 0xa000n | P | RW);
    m.writeU64(0xa000 + 5 * 8, 0x30000n | P | RW);
    const pae = ctx(PagingMode.Pae, 0x8000);
    expect(translate(m, pae, 0x200004, false)).toBe(0x200004);
    expect(translate(m, pae, 0x5010, false)).toBe(0x30010);
    expect(translate(m, pae, 0x40000000, false)).toBe(-EFAULT); // PDPTE 1 not present
    // 2-level: PD at 0xb000, PT at 0xc000; PDE 1 is a 4 MiB page
    m.writeU32(0xb000 + 4, 0x400000 | 0x83);
    m.writeU32(0xb000, 0xc000 | 3);
    m.writeU32(0xc000 + 5 * 4, 0x30000 | 3);
    const two = ctx(PagingMode.TwoLevel, 0xb000);
    expect(translate(m, two, 0x400010, false)).toBe(0x400010);
    expect(translate(m, two, 0x5008, false)).toBe(0x30008);
    expect(translate(m, { ...two, pse: false }, 0x400010, false)).toBe(-EFAULT); // PDE read as a PT pointer, PTE 0 empty
    const off = new GuestAccess(m, ctx(PagingMode.Off, 0));
    expect(off.gpa(0x1234, 4, true)).toBe(0x1234);
    expect(off.read(16 * MiB - 2, 4)).toBe(-EFAULT);
    expect(new GuestAccess(m, two).read(0x1_0000_0000, 1)).toBe(-EFAULT); // beyond 32-bit linear
  });

  it('derives the paging mode from CR0/CR4/EFER', () => {
    const base = { cr0: 0x80000011n, cr3: 0x1000n, cr4: 0n, efer: 0n };
    expect(pagingContext({ ...base, cr0: 0x11n }).mode).toBe(PagingMode.Off);
    expect(pagingContext(base).mode).toBe(PagingMode.TwoLevel);
    expect(pagingContext({ ...base, cr4: 0x20n }).mode).toBe(PagingMode.Pae);
    expect(pagingContext({ ...base, cr4: 0x20n, efer: 0x500n }).mode).toBe(PagingMode.Long4);
    expect(pagingContext({ ...base, cr4: 0x1020n, efer: 0x500n }).mode).toBe(PagingMode.Unsupported);
  });
});
