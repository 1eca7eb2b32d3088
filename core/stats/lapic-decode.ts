// Decoder of the local APIC register page KVM_GET_LAPIC returns (struct kvm_lapic_state: the
// 1 KiB xAPIC register page, each 32-bit register at its MMIO offset). Offsets and fields:
// Intel SDM vol. 3A §11.4.1 table 11-1 "Local APIC Register Address Map", §11.5.1 (LVT),
// §11.5.4 (timer divide configuration), §11.9 (spurious-interrupt vector register).
// KVM reports the APIC ID in xAPIC format (bits 31:24) unless the VMM opted into 32-bit
// x2APIC IDs, which this VMM does not. Pure function of the bytes.
import { VmmError } from '../errors.js';

export const LAPIC_PAGE_SIZE = 1024;
export const LAPIC_REG = {
  id: 0x20, version: 0x30, tpr: 0x80, apr: 0x90, ppr: 0xa0, ldr: 0xd0, dfr: 0xe0, svr: 0xf0,
  isr: 0x100, tmr: 0x180, irr: 0x200, esr: 0x280, lvtCmci: 0x2f0, icrLo: 0x300, icrHi: 0x310,
  lvtTimer: 0x320, lvtThermal: 0x330, lvtPerf: 0x340, lvtLint0: 0x350, lvtLint1: 0x360, lvtError: 0x370,
  timerInitialCount: 0x380, timerCurrentCount: 0x390, timerDivide: 0x3e0,
} as const;
/** ISR/TMR/IRR: 8 registers of 32 vectors each, 16 bytes apart. */
const VECTOR_BANK_REGS = 8;
const REG_STRIDE = 0x10;
const ID_SHIFT = 24;
const VERSION_MASK = 0xff;
const MAX_LVT_SHIFT = 16;
const SVR_VECTOR_MASK = 0xff;
const SVR_APIC_ENABLED = 1 << 8;
const SVR_FOCUS_DISABLED = 1 << 9;
const SVR_EOI_BROADCAST_SUPPRESSION = 1 << 12;
const LVT_VECTOR_MASK = 0xff;
const LVT_DELIVERY_SHIFT = 8; // 10:8
const LVT_DELIVERY_STATUS = 1 << 12;
const LVT_ACTIVE_LOW = 1 << 13; // LINT0/LINT1 only
const LVT_REMOTE_IRR = 1 << 14; // LINT0/LINT1 only
const LVT_LEVEL = 1 << 15; // LINT0/LINT1 only
const LVT_MASKED = 1 << 16;
const LVT_TIMER_MODE_SHIFT = 17; // 18:17
const LVT_TIMER_MODES = ['one-shot', 'periodic', 'tsc-deadline', 'reserved'] as const;
/** LVT delivery modes (SDM §11.5.1): 000 Fixed, 010 SMI, 100 NMI, 101 INIT, 111 ExtINT. */
const LVT_DELIVERY_MODES = ['Fixed', 'Reserved (1)', 'SMI', 'Reserved (3)', 'NMI', 'INIT', 'Reserved (6)', 'ExtINT'] as const;
const DCR_DIVIDE_ONE = 0b111;

export class LapicDecodeError extends VmmError {}

export interface LvtEntry {
  raw: number;
  vector: number;
  masked: boolean;
  deliveryStatus: 'idle' | 'send-pending';
  /** Absent for the timer and error entries, which are always Fixed. */
  deliveryMode?: string;
  polarity?: 'high' | 'low';
  trigger?: 'edge' | 'level';
  remoteIrr?: boolean;
  timerMode?: (typeof LVT_TIMER_MODES)[number];
}

export interface LapicState {
  id: number;
  version: number;
  maxLvt: number;
  tpr: number;
  apr: number;
  ppr: number;
  ldr: number;
  dfr: number;
  svr: { raw: number; enabled: boolean; spuriousVector: number; focusChecking: boolean; eoiBroadcastSuppression: boolean };
  isr: number[];
  tmr: number[];
  irr: number[];
  esr: number;
  icr: { lo: number; hi: number };
  lvt: { timer: LvtEntry; thermal: LvtEntry; perf: LvtEntry; lint0: LvtEntry; lint1: LvtEntry; error: LvtEntry };
  timer: { initialCount: number; currentCount: number; divideRaw: number; divideBy: number };
}

/** Vectors whose bits are set in a 256-bit ISR/TMR/IRR bank. */
export function vectorBank(dv: DataView, base: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < VECTOR_BANK_REGS; r++) {
    const word = dv.getUint32(base + r * REG_STRIDE, true);
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) out.push(r * 32 + bit);
  }
  return out;
}

function lvt(raw: number, kind: 'timer' | 'fixed' | 'mode' | 'lint'): LvtEntry {
  const e: LvtEntry = {
    raw,
    vector: raw & LVT_VECTOR_MASK,
    masked: (raw & LVT_MASKED) !== 0,
    deliveryStatus: raw & LVT_DELIVERY_STATUS ? 'send-pending' : 'idle',
  };
  if (kind === 'mode' || kind === 'lint') e.deliveryMode = LVT_DELIVERY_MODES[(raw >>> LVT_DELIVERY_SHIFT) & 7]!;
  if (kind === 'lint') {
    e.polarity = raw & LVT_ACTIVE_LOW ? 'low' : 'high';
    e.trigger = raw & LVT_LEVEL ? 'level' : 'edge';
    e.remoteIrr = (raw & LVT_REMOTE_IRR) !== 0;
  }
  if (kind === 'timer') e.timerMode = LVT_TIMER_MODES[(raw >>> LVT_TIMER_MODE_SHIFT) & 3]!;
  return e;
}

/** Divide Configuration Register bits 3,1:0 -> divisor (SDM figure 11-10). */
export function timerDivisor(dcr: number): number {
  const v = (dcr & 0b11) | ((dcr & 0b1000) >>> 1);
  return v === DCR_DIVIDE_ONE ? 1 : 2 << v;
}

export function decodeLapic(page: Uint8Array): LapicState {
  if (page.byteLength < LAPIC_PAGE_SIZE) throw new LapicDecodeError(`LAPIC page is ${page.byteLength} bytes, expected ${LAPIC_PAGE_SIZE}`);
  const dv = new DataView(page.buffer, page.byteOffset, LAPIC_PAGE_SIZE);
  const r = (off: number): number => dv.getUint32(off, true);
  const R = LAPIC_REG;
  const svr = r(R.svr);
  const version = r(R.version);
  const dcr = r(R.timerDivide);
  return {
    id: r(R.id) >>> ID_SHIFT,
    version: version & VERSION_MASK,
    maxLvt: (version >>> MAX_LVT_SHIFT) & 0xff,
    tpr: r(R.tpr) & 0xff,
    apr: r(R.apr) & 0xff,
    ppr: r(R.ppr) & 0xff,
    ldr: r(R.ldr),
    dfr: r(R.dfr),
    svr: {
      raw: svr,
      enabled: (svr & SVR_APIC_ENABLED) !== 0,
      spuriousVector: svr & SVR_VECTOR_MASK,
      focusChecking: (svr & SVR_FOCUS_DISABLED) === 0,
      eoiBroadcastSuppression: (svr & SVR_EOI_BROADCAST_SUPPRESSION) !== 0,
    },
    isr: vectorBank(dv, R.isr),
    tmr: vectorBank(dv, R.tmr),
    irr: vectorBank(dv, R.irr),
    esr: r(R.esr),
    icr: { lo: r(R.icrLo), hi: r(R.icrHi) },
    lvt: {
      timer: lvt(r(R.lvtTimer), 'timer'),
      thermal: lvt(r(R.lvtThermal), 'mode'),
      perf: lvt(r(R.lvtPerf), 'mode'),
      lint0: lvt(r(R.lvtLint0), 'lint'),
      lint1: lvt(r(R.lvtLint1), 'lint'),
      error: lvt(r(R.lvtError), 'fixed'),
    },
    timer: { initialCount: r(R.timerInitialCount), currentCount: r(R.timerCurrentCount), divideRaw: dcr, divideBy: timerDivisor(dcr) },
  };
}
