// Builders for tiny synthetic kernel images (ELF with notes, multiboot header, a.out-kludge
// kernel, bzImage with a setup header). Unit tests use them to exercise the loaders on valid
// and deliberately broken images without shipping binaries; the payloads are not runnable.
import { EM_386, EM_X86_64, PT_LOAD, PT_NOTE } from './elf.js';
import { MULTIBOOT_HEADER_MAGIC, MBH_AOUT_KLUDGE } from './multiboot-header.js';

export interface SyntheticSegment {
  paddr: number;
  vaddr?: bigint;
  data: Uint8Array;
  memsz?: number;
}

export interface SyntheticNote {
  name: string;
  type: number;
  desc: Uint8Array;
}

export interface SyntheticElf {
  elfClass: 32 | 64;
  entry: bigint;
  segments: SyntheticSegment[];
  notes?: SyntheticNote[];
  machine?: number;
}

const pad4 = (n: number): number => Math.ceil(n / 4) * 4;

export function encodeNotes(notes: SyntheticNote[]): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number): void => {
    parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  };
  for (const n of notes) {
    const name = [...Buffer.from(n.name, 'latin1'), 0];
    u32(name.length);
    u32(n.desc.length);
    u32(n.type);
    parts.push(...name, ...new Array(pad4(name.length) - name.length).fill(0));
    parts.push(...n.desc, ...new Array(pad4(n.desc.length) - n.desc.length).fill(0));
  }
  return Uint8Array.from(parts);
}

/** ELF file: header, program headers, note data, then each segment's bytes (16-aligned). */
export function buildElf(spec: SyntheticElf): Uint8Array {
  const is64 = spec.elfClass === 64;
  const ehsize = is64 ? 64 : 52;
  const phsize = is64 ? 56 : 32;
  const notes = spec.notes?.length ? encodeNotes(spec.notes) : undefined;
  const phnum = spec.segments.length + (notes ? 1 : 0);
  let off = ehsize + phnum * phsize;
  const noteOff = off;
  off += notes?.length ?? 0;
  const segOffs = spec.segments.map((s) => {
    off = Math.ceil(off / 16) * 16;
    const at = off;
    off += s.data.length;
    return at;
  });
  const out = new Uint8Array(off);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, spec.machine ?? (is64 ? EM_X86_64 : EM_386), true);
  dv.setUint32(20, 1, true);
  if (is64) {
    dv.setBigUint64(24, spec.entry, true);
    dv.setBigUint64(32, BigInt(ehsize), true);
    dv.setUint16(52, ehsize, true);
    dv.setUint16(54, phsize, true);
    dv.setUint16(56, phnum, true);
  } else {
    dv.setUint32(24, Number(spec.entry), true);
    dv.setUint32(28, ehsize, true);
    dv.setUint16(40, ehsize, true);
    dv.setUint16(42, phsize, true);
    dv.setUint16(44, phnum, true);
  }
  const phdrs: { type: number; offset: number; vaddr: bigint; paddr: number; filesz: number; memsz: number; align: number }[] =
    spec.segments.map((s, i) => ({
      type: PT_LOAD,
      offset: segOffs[i]!,
      vaddr: s.vaddr ?? BigInt(s.paddr),
      paddr: s.paddr,
      filesz: s.data.length,
      memsz: s.memsz ?? s.data.length,
      align: 0x1000,
    }));
  if (notes) phdrs.push({ type: PT_NOTE, offset: noteOff, vaddr: 0n, paddr: 0, filesz: notes.length, memsz: notes.length, align: 4 });
  phdrs.forEach((p, i) => {
    const at = ehsize + i * phsize;
    if (is64) {
      dv.setUint32(at, p.type, true);
      dv.setUint32(at + 4, 5, true);
      dv.setBigUint64(at + 8, BigInt(p.offset), true);
      dv.setBigUint64(at + 16, p.vaddr, true);
      dv.setBigUint64(at + 24, BigInt(p.paddr), true);
      dv.setBigUint64(at + 32, BigInt(p.filesz), true);
      dv.setBigUint64(at + 40, BigInt(p.memsz), true);
      dv.setBigUint64(at + 48, BigInt(p.align), true);
    } else {
      dv.setUint32(at, p.type, true);
      dv.setUint32(at + 4, p.offset, true);
      dv.setUint32(at + 8, Number(p.vaddr), true);
      dv.setUint32(at + 12, p.paddr, true);
      dv.setUint32(at + 16, p.filesz, true);
      dv.setUint32(at + 20, p.memsz, true);
      dv.setUint32(at + 24, 5, true);
      dv.setUint32(at + 28, p.align, true);
    }
  });
  if (notes) out.set(notes, noteOff);
  spec.segments.forEach((s, i) => out.set(s.data, segOffs[i]!));
  return out;
}

export function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

export interface AoutFields {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** Multiboot v1 header: 12 bytes, or 32 with the a.out kludge fields when `aout` is given. */
export function buildMultibootHeader(flags: number, aout?: AoutFields, checksumDelta = 0): Uint8Array {
  const f = aout ? flags | MBH_AOUT_KLUDGE : flags;
  const out = new Uint8Array(aout ? 32 : 12);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MULTIBOOT_HEADER_MAGIC, true);
  dv.setUint32(4, f >>> 0, true);
  dv.setUint32(8, (-(MULTIBOOT_HEADER_MAGIC + f) + checksumDelta) >>> 0, true);
  if (aout) {
    dv.setUint32(12, aout.headerAddr, true);
    dv.setUint32(16, aout.loadAddr, true);
    dv.setUint32(20, aout.loadEndAddr, true);
    dv.setUint32(24, aout.bssEndAddr, true);
    dv.setUint32(28, aout.entryAddr, true);
  }
  return out;
}

/**
 * A flat a.out-kludge kernel: `headerOffset` bytes of 0x90, the 32-byte header, then `tail`
 * bytes of 0xcc; loaded at `loadAddr` with `bss` zero bytes after it, entry at loadAddr.
 */
export function buildAoutKernel(loadAddr: number, opts: { headerOffset?: number; tail?: number; bss?: number } = {}): Uint8Array {
  const headerOffset = opts.headerOffset ?? 0x40;
  const tail = opts.tail ?? 0x100;
  const len = headerOffset + 32 + tail;
  const out = new Uint8Array(len).fill(0x90);
  out.fill(0xcc, headerOffset + 32);
  const loadEnd = loadAddr + len;
  out.set(
    buildMultibootHeader(0x3, {
      headerAddr: loadAddr + headerOffset,
      loadAddr,
      loadEndAddr: loadEnd,
      bssEndAddr: loadEnd + (opts.bss ?? 0x1000),
      entryAddr: loadAddr,
    }),
    headerOffset,
  );
  return out;
}

export interface SyntheticBzImage {
  version?: number;
  setupSects?: number;
  xloadflags?: number;
  relocatable?: boolean;
  kernelAlignment?: number;
  prefAddress?: bigint;
  initSize?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  /** Value of the byte at 0x201 (setup header end = 0x202 + it). */
  headerLenByte?: number;
  payload?: Uint8Array;
}

/** A bzImage: setup sectors holding a setup header, then the "protected-mode kernel". */
export function buildBzImage(spec: SyntheticBzImage = {}): Uint8Array {
  const setupSects = spec.setupSects ?? 4;
  const payload = spec.payload ?? new Uint8Array(0x3000).fill(0xf4);
  const kernelOffset = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const out = new Uint8Array(kernelOffset + payload.length);
  const dv = new DataView(out.buffer);
  out[0x1f1] = setupSects;
  dv.setUint32(0x1f4, Math.ceil(payload.length / 16), true);
  dv.setUint16(0x1fa, 0xffff, true);
  dv.setUint16(0x1fe, 0xaa55, true);
  out[0x200] = 0xeb;
  out[0x201] = spec.headerLenByte ?? 0x6a; // header ends at 0x26c, like Linux 6.x
  out.set(Buffer.from('HdrS', 'latin1'), 0x202);
  dv.setUint16(0x206, spec.version ?? 0x020f, true);
  out[0x211] = 0x01; // LOADED_HIGH
  dv.setUint32(0x214, 0x100000, true);
  dv.setUint32(0x22c, spec.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, spec.kernelAlignment ?? 0x200000, true);
  out[0x234] = spec.relocatable === false ? 0 : 1;
  out[0x235] = 21;
  dv.setUint16(0x236, spec.xloadflags ?? (0x1 | 0x2), true);
  dv.setUint32(0x238, spec.cmdlineSize ?? 2047, true);
  dv.setBigUint64(0x250, 0xdeadbeefn, true); // setup_data the loader must clear
  dv.setBigUint64(0x258, spec.prefAddress ?? 0x1000000n, true);
  dv.setUint32(0x260, spec.initSize ?? 0x800000, true);
  out.set(payload, kernelOffset);
  return out;
}
