// Encoders/decoders for the KVM structs that cross the ioctl boundary as raw bytes:
// kvm_regs, kvm_sregs (with kvm_segment / kvm_dtable), kvm_cpuid2. Layouts from
// <linux/kvm.h> and <asm/kvm.h> (x86-64); sizes checked against sizeof() in C.

export const REGS_SIZE = 144;
export const SREGS_SIZE = 312;
export const CPUID_ENTRY_SIZE = 40;

export const REG_NAMES = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const;
export type RegName = (typeof REG_NAMES)[number];
export type Regs = Record<RegName, bigint>;

export function decodeRegs(buf: Uint8Array): Regs {
  const dv = new DataView(buf.buffer, buf.byteOffset, REGS_SIZE);
  const out = {} as Regs;
  REG_NAMES.forEach((n, i) => (out[n] = dv.getBigUint64(i * 8, true)));
  return out;
}

export function encodeRegs(regs: Regs): Uint8Array {
  const buf = new Uint8Array(REGS_SIZE);
  const dv = new DataView(buf.buffer);
  REG_NAMES.forEach((n, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, regs[n]), true));
  return buf;
}

export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

export interface DTable {
  base: bigint;
  limit: number;
}

export const SEGMENT_NAMES = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

export interface Sregs extends Record<SegmentName, Segment> {
  gdt: DTable;
  idt: DTable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: bigint[];
}

const SEG_SIZE = 24;
const DT_OFF = 8 * SEG_SIZE;
const CR_OFF = DT_OFF + 32;
const CR_NAMES = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apicBase'] as const;
const BITMAP_OFF = CR_OFF + CR_NAMES.length * 8;

function readSeg(dv: DataView, o: number): Segment {
  return {
    base: dv.getBigUint64(o, true),
    limit: dv.getUint32(o + 8, true),
    selector: dv.getUint16(o + 12, true),
    type: dv.getUint8(o + 14),
    present: dv.getUint8(o + 15),
    dpl: dv.getUint8(o + 16),
    db: dv.getUint8(o + 17),
    s: dv.getUint8(o + 18),
    l: dv.getUint8(o + 19),
    g: dv.getUint8(o + 20),
    avl: dv.getUint8(o + 21),
    unusable: dv.getUint8(o + 22),
  };
}

function writeSeg(dv: DataView, o: number, s: Segment): void {
  dv.setBigUint64(o, s.base, true);
  dv.setUint32(o + 8, s.limit >>> 0, true);
  dv.setUint16(o + 12, s.selector, true);
  const bytes = [s.type, s.present, s.dpl, s.db, s.s, s.l, s.g, s.avl, s.unusable];
  bytes.forEach((b, i) => dv.setUint8(o + 14 + i, b));
}

export function decodeSregs(buf: Uint8Array): Sregs {
  const dv = new DataView(buf.buffer, buf.byteOffset, SREGS_SIZE);
  const out = {} as Sregs;
  SEGMENT_NAMES.forEach((n, i) => (out[n] = readSeg(dv, i * SEG_SIZE)));
  out.gdt = { base: dv.getBigUint64(DT_OFF, true), limit: dv.getUint16(DT_OFF + 8, true) };
  out.idt = { base: dv.getBigUint64(DT_OFF + 16, true), limit: dv.getUint16(DT_OFF + 24, true) };
  CR_NAMES.forEach((n, i) => (out[n] = dv.getBigUint64(CR_OFF + i * 8, true)));
  out.interruptBitmap = [0, 1, 2, 3].map((i) => dv.getBigUint64(BITMAP_OFF + i * 8, true));
  return out;
}

export function encodeSregs(s: Sregs): Uint8Array {
  const buf = new Uint8Array(SREGS_SIZE);
  const dv = new DataView(buf.buffer);
  SEGMENT_NAMES.forEach((n, i) => writeSeg(dv, i * SEG_SIZE, s[n]));
  dv.setBigUint64(DT_OFF, s.gdt.base, true);
  dv.setUint16(DT_OFF + 8, s.gdt.limit, true);
  dv.setBigUint64(DT_OFF + 16, s.idt.base, true);
  dv.setUint16(DT_OFF + 24, s.idt.limit, true);
  CR_NAMES.forEach((n, i) => dv.setBigUint64(CR_OFF + i * 8, s[n], true));
  s.interruptBitmap.forEach((v, i) => dv.setBigUint64(BITMAP_OFF + i * 8, v, true));
  return buf;
}

export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export function decodeCpuid2(buf: Uint8Array): CpuidEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getUint32(0, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = 8 + i * CPUID_ENTRY_SIZE;
    out.push({
      function: dv.getUint32(o, true),
      index: dv.getUint32(o + 4, true),
      flags: dv.getUint32(o + 8, true),
      eax: dv.getUint32(o + 12, true),
      ebx: dv.getUint32(o + 16, true),
      ecx: dv.getUint32(o + 20, true),
      edx: dv.getUint32(o + 24, true),
    });
  }
  return out;
}

export function encodeCpuid2(entries: CpuidEntry[]): Uint8Array {
  const buf = new Uint8Array(8 + entries.length * CPUID_ENTRY_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    const o = 8 + i * CPUID_ENTRY_SIZE;
    [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx].forEach((v, j) => dv.setUint32(o + j * 4, v >>> 0, true));
  });
  return buf;
}
