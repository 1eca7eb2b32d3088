// Guest pointers in hypercalls are guest-virtual addresses. This module translates them by
// walking the calling vCPU's page tables (CR3) in guest RAM and copies bytes in and out,
// one page at a time, so a buffer that crosses a page boundary is translated per page.
// Every failure (non-canonical address, not-present entry, reserved-bit-free but read-only
// page for a write, a page table or data page that is not RAM, e.g. MMIO) is -EFAULT; a
// hostile guest can never make this throw.
//
// Paging modes (Intel SDM vol. 3A ch. 4): off (identity), 32-bit 2-level (4 KiB and, with
// CR4.PSE, 4 MiB pages), PAE 3-level (4 KiB / 2 MiB), 4-level long mode (4 KiB / 2 MiB /
// 1 GiB). 5-level paging (CR4.LA57) is not offered to guests (KVM's CPUID from us has no
// LA57 handling here) and is treated as a fault.
//
// Threading: pure functions over GuestMemory; used on vCPU threads (fast-path hypercalls)
// and on the host thread (slow path, with the CR3 the vCPU forwarded).
import { EFAULT } from './errno.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PSE, EFER_LMA } from '../kvm/x86-regs.js';

/** What the event-channel core and the hypercall handlers code against. */
export interface GuestArgs {
  /** Copy `len` bytes from guest-virtual `gva`, or -errno. */
  read(gva: bigint | number, len: number): Uint8Array | number;
  /** Copy `bytes` to guest-virtual `gva`: 0 or -errno. */
  write(gva: bigint | number, bytes: Uint8Array): number;
  /** Guest-physical address of [gva, gva+len) when it lies in one page of RAM, else -errno. */
  gpa(gva: bigint | number, len: number, write: boolean): number;
}

export enum PagingMode {
  /** A mode we do not walk (5-level paging): every pointer faults. */
  Unsupported = -1,
  Off = 0,
  TwoLevel = 1,
  Pae = 2,
  Long4 = 3,
}

export interface PagingContext {
  mode: PagingMode;
  cr3: bigint;
  /** CR4.PSE: 4 MiB pages in 2-level mode. */
  pse: boolean;
  /** CR0.WP: supervisor writes honour read-only pages. */
  wp: boolean;
}


// Paging-structure entry bits (SDM 3A 4.3-4.5)
const PTE_P = 1;
const PTE_RW = 2;
const PTE_PS = 0x80;

const PAGE = 4096;
const TWO_32 = 2 ** 32;
/** Physical-address bits 51:32 of a 64-bit entry's high word. */
const HI_ADDR_MASK = 0xfffff;

export function pagingContext(s: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint }): PagingContext {
  const wp = (s.cr0 & CR0_WP) !== 0n;
  const pse = (s.cr4 & CR4_PSE) !== 0n;
  let mode = PagingMode.Off;
  if (s.cr0 & CR0_PG) mode = s.efer & EFER_LMA ? (s.cr4 & CR4_LA57 ? PagingMode.Unsupported : PagingMode.Long4) : s.cr4 & CR4_PAE ? PagingMode.Pae : PagingMode.TwoLevel;
  return { mode, cr3: s.cr3, pse, wp };
}

/** The linear address as a Number, or -1 when it is not canonical / out of the mode's range. */
function linear(gva: bigint | number, mode: PagingMode): number {
  if (mode === PagingMode.Unsupported) return -1;
  if (typeof gva === 'number') {
    if (!Number.isSafeInteger(gva) || gva < 0) return -1;
    gva = BigInt(gva);
  }
  gva = BigInt.asUintN(64, gva);
  if (mode === PagingMode.Long4) {
    const top = gva >> 47n;
    if (top !== 0n && top !== 0x1ffffn) return -1;
    return Number(gva & 0xffffffffffffn);
  }
  if (mode === PagingMode.Off) return gva < 1n << 52n ? Number(gva) : -1;
  return gva < 1n << 32n ? Number(gva) : -1; // 32-bit linear space
}

/** End (exclusive) of the linear region `la` lies in: a buffer may not run past it. */
function linearEnd(la: number, mode: PagingMode): number {
  if (mode === PagingMode.Long4) return la < 2 ** 47 ? 2 ** 47 : 2 ** 48;
  return mode === PagingMode.Off ? 2 ** 52 : TWO_32;
}

interface Entry {
  lo: number;
  hi: number;
}

function readEntry(mem: GuestMemory, gpa: number, wide: boolean): Entry | undefined {
  const off = mem.offsetOf(gpa, wide ? 8 : 4);
  if (off < 0) return undefined;
  const dv = new DataView(mem.bytes.buffer, mem.bytes.byteOffset);
  return { lo: dv.getUint32(off, true), hi: wide ? dv.getUint32(off + 4, true) : 0 };
}

const frame = (e: Entry, lowMask: number): number => (e.hi & HI_ADDR_MASK) * TWO_32 + ((e.lo & lowMask) >>> 0);

/**
 * Guest-physical address of linear `la`, or -EFAULT. `write` also requires every level's
 * R/W bit (when CR0.WP is set; the hypercall runs at CPL0).
 */
export function translate(mem: GuestMemory, ctx: PagingContext, la: number, write: boolean): number {
  if (ctx.mode === PagingMode.Off) return la;
  if (ctx.mode === PagingMode.Unsupported) return -EFAULT;
  const checkW = write && ctx.wp;
  let rw = true;
  const cr3 = Number(BigInt.asUintN(52, ctx.cr3));
  if (ctx.mode === PagingMode.TwoLevel) {
    const pde = readEntry(mem, (cr3 & 0xfffff000) + ((la >>> 22) & 0x3ff) * 4, false);
    if (!pde || !(pde.lo & PTE_P)) return -EFAULT;
    rw &&= (pde.lo & PTE_RW) !== 0;
    if (ctx.pse && pde.lo & PTE_PS) {
      // 4 MiB page: bits 31:22 from the PDE, 39:32 from PDE bits 20:13 (PSE-36).
      const base = ((pde.lo & 0xffc00000) >>> 0) + ((pde.lo >>> 13) & 0xff) * TWO_32;
      return checkW && !rw ? -EFAULT : base + (la & 0x3fffff);
    }
    const pte = readEntry(mem, ((pde.lo & 0xfffff000) >>> 0) + ((la >>> 12) & 0x3ff) * 4, false);
    if (!pte || !(pte.lo & PTE_P)) return -EFAULT;
    rw &&= (pte.lo & PTE_RW) !== 0;
    return checkW && !rw ? -EFAULT : ((pte.lo & 0xfffff000) >>> 0) + (la & 0xfff);
  }
  // PAE and 4-level share the 64-bit entry format; PAE starts at a 4-entry PDPT.
  let table: number;
  let shifts: number[];
  if (ctx.mode === PagingMode.Pae) {
    const pdpte = readEntry(mem, (cr3 & 0xffffffe0) + Math.floor(la / 2 ** 30) * 8, true);
    if (!pdpte || !(pdpte.lo & PTE_P)) return -EFAULT;
    table = frame(pdpte, 0xfffff000);
    shifts = [21, 12];
  } else {
    table = Math.floor(cr3 / PAGE) * PAGE;
    shifts = [39, 30, 21, 12];
  }
  for (const shift of shifts) {
    const idx = Math.floor(la / 2 ** shift) % 512;
    const e = readEntry(mem, table + idx * 8, true);
    if (!e || !(e.lo & PTE_P)) return -EFAULT;
    rw &&= (e.lo & PTE_RW) !== 0;
    const large = shift !== 12 && shift !== 39 && (e.lo & PTE_PS) !== 0;
    if (shift === 12 || large) {
      if (checkW && !rw) return -EFAULT;
      const size = 2 ** shift;
      // 1 GiB / 2 MiB page: frame bits below the page size are PAT/reserved, masked off.
      const base = Math.floor(frame(e, 0xfffff000) / size) * size;
      return base + (la % size);
    }
    table = frame(e, 0xfffff000);
  }
  return -EFAULT; // not reached
}

/** GuestArgs for one hypercall, bound to the calling vCPU's paging context. */
export class GuestAccess implements GuestArgs {
  constructor(
    private readonly mem: GuestMemory,
    private readonly ctx: PagingContext,
  ) {}

  /** Each page-sized piece of [gva, gva+len) as a RAM byte offset, or -EFAULT. */
  private pieces(gva: bigint | number, len: number, write: boolean): [number, number][] | number {
    if (!Number.isSafeInteger(len) || len < 0) return -EFAULT;
    const la = linear(gva, this.ctx.mode);
    if (la < 0) return -EFAULT;
    const end = linearEnd(la, this.ctx.mode);
    const out: [number, number][] = [];
    let done = 0;
    while (done < len) {
      const cur = la + done;
      const n = Math.min(len - done, PAGE - (cur % PAGE));
      if (cur + n > end) return -EFAULT; // runs off the canonical half / linear space
      const gpa = translate(this.mem, this.ctx, cur, write);
      if (gpa < 0) return gpa;
      const off = this.mem.offsetOf(gpa, n);
      if (off < 0) return -EFAULT; // not RAM: MMIO, a hole, beyond the end
      out.push([off, n]);
      done += n;
    }
    return out;
  }

  read(gva: bigint | number, len: number): Uint8Array | number {
    const p = this.pieces(gva, len, false);
    if (typeof p === 'number') return p;
    const out = new Uint8Array(len);
    let at = 0;
    for (const [off, n] of p) {
      out.set(this.mem.bytes.subarray(off, off + n), at);
      at += n;
    }
    return out;
  }

  write(gva: bigint | number, bytes: Uint8Array): number {
    const p = this.pieces(gva, bytes.length, true);
    if (typeof p === 'number') return p;
    let at = 0;
    for (const [off, n] of p) {
      this.mem.bytes.set(bytes.subarray(at, at + n), off);
      at += n;
    }
    return 0;
  }

  gpa(gva: bigint | number, len: number, write: boolean): number {
    const p = this.pieces(gva, len, write);
    if (typeof p === 'number') return p;
    if (p.length !== 1) return -EFAULT;
    // offset -> gpa through the region that holds it
    const off = p[0]![0];
    const r = this.mem.layout.regions.find((x) => off >= x.offset && off < x.offset + x.size)!;
    return r.gpa + (off - r.offset);
  }
}
