// MSI capability (PCI Local Bus 3.0 §6.8.1): 32- or 64-bit message address, 1..32 vectors
// (Multiple Message Capable / Enable), optional per-vector masking with Mask and Pending Bits
// registers. Data flow: the device calls notify(v); the shared vector engine (vectors.ts)
// sends the vector's message (the function puts the vector index into the low MME bits of
// Message Data, §6.8.1.6) or, when the vector is masked, latches it as pending; every guest
// write to the capability re-evaluates all vectors, so notifier, pending delivery on unmask
// and route updates behave exactly as for MSI-X.
//
// Choices where the spec leaves room:
// - MME written above MMC (or to the reserved values 6, 7) is clamped to MMC, as QEMU's
//   msi_write_config does; counted.
// - A vector is effectively masked while MSI is disabled, while its index is not allocated
//   (>= 2^MME), or while its Mask bit is set. Events on a disabled MSI are latched like
//   QEMU's MSI-X does for a disabled table (QEMU's msi.c would assert instead); without
//   per-vector masking the latch is internal (there is no Pending register to show it).
// - notify(v) for a vector that is capable but not allocated is aliased onto v mod 2^MME
//   (the function "combines" events when given fewer messages than it asked for); counted.
// - Message Address bits 1:0 read 0; Message Data is 16 bits, the upper half of its dword
//   reserved (PCI 3.0); Mask bits of unimplemented vectors are read-only 0; Pending is RO.
import type { MsiMessage } from '../irq/types.js';
import type { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import { CAP_ID } from './regs.js';
import { VectorEngine, type VectorCounters, type VectorNotifier, type VectorSender } from './vectors.js';

export const MSI_MAX_VECTORS = 32;
/** Message Control bits (§6.8.1.3). */
export const MSI_CTRL_ENABLE = 1 << 0;
export const MSI_CTRL_MMC_SHIFT = 1; // bits 3:1, RO
export const MSI_CTRL_MME_SHIFT = 4; // bits 6:4, RW
export const MSI_CTRL_MME_MASK = 0x7 << MSI_CTRL_MME_SHIFT;
export const MSI_CTRL_64BIT = 1 << 7;
export const MSI_CTRL_PER_VECTOR_MASK = 1 << 8;
const ADDRESS_LO_WRITABLE = 0xfffffffc;
const DATA_WRITABLE = 0xffff;

export interface MsiOptions {
  /** Multiple Message Capable: 1, 2, 4, 8, 16 or 32 vectors. */
  vectors: number;
  addr64: boolean;
  perVectorMask: boolean;
  sender: VectorSender;
  /** MSI Enable changed: while enabled the function must not use INTx (§6.8.1.3). */
  onEnableChange?(enabled: boolean): void;
  /** Before a read of the Pending Bits register, covering vectors [first, last]. */
  poll?(first: number, last: number): void;
}

/** Register offsets inside the capability for a given layout (figure 6-9). */
export function msiLayout(addr64: boolean, perVectorMask: boolean) {
  const data = addr64 ? 0x0c : 0x08;
  return {
    control: 2,
    addressLo: 4,
    addressHi: addr64 ? 0x08 : undefined,
    data,
    mask: perVectorMask ? data + 4 : undefined,
    pending: perVectorMask ? data + 8 : undefined,
    /** 0x0a, 0x0e, 0x14, 0x18: the sizes QEMU's PCI_MSI_*_SIZEOF use. */
    length: perVectorMask ? data + 12 : data + 2,
  };
}

export class MsiCapability {
  readonly offset: number;
  readonly capable: number;
  private readonly regs: ReturnType<typeof msiLayout>;
  private readonly engine: VectorEngine;
  private enabledFlag = false;
  /** Pending latch when there is no Pending Bits register (no per-vector masking). */
  private hiddenPending = 0;
  readonly stats = { mmeClamped: 0, aliasedNotifies: 0, badVectorNotifies: 0, pendingPolls: 0 };

  constructor(
    private readonly cfg: ConfigSpace,
    private readonly opts: MsiOptions,
  ) {
    const n = opts.vectors;
    if (!Number.isInteger(n) || n < 1 || n > MSI_MAX_VECTORS || (n & (n - 1)) !== 0) {
      throw new PciConfigError(`MSI vector count ${n} is not a power of two 1..32`);
    }
    this.capable = n;
    this.regs = msiLayout(opts.addr64, opts.perVectorMask);
    const r = this.regs;
    const off = cfg.addCapability(CAP_ID.msi, r.length);
    this.offset = off;
    const ctl = (Math.log2(n) << MSI_CTRL_MMC_SHIFT) | (opts.addr64 ? MSI_CTRL_64BIT : 0) | (opts.perVectorMask ? MSI_CTRL_PER_VECTOR_MASK : 0);
    cfg.set16(off + r.control, ctl);
    cfg.setWriteMask(off + r.control, 2, MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK);
    cfg.setWriteMask(off + r.addressLo, 4, ADDRESS_LO_WRITABLE);
    if (r.addressHi !== undefined) cfg.setWriteMask(off + r.addressHi, 4, 0xffffffff);
    cfg.setWriteMask(off + r.data, 2, DATA_WRITABLE);
    if (r.mask !== undefined) cfg.setWriteMask(off + r.mask, 4, n === 32 ? 0xffffffff : (1 << n) - 1);

    this.engine = new VectorEngine(n, {
      isMasked: (v) => this.isMasked(v),
      message: (v) => this.message(v),
      isPending: (v) => this.isPending(v),
      setPendingBit: (v, p) => this.setPendingBit(v, p),
    }, opts.sender);
    cfg.watch(off + r.control, 2, { afterWrite: () => this.controlWritten() });
    cfg.watch(off + r.addressLo, r.length - r.addressLo, { afterWrite: () => this.engine.refreshAll() });
    if (r.pending !== undefined) cfg.watch(off + r.pending, 4, { beforeRead: () => this.poll() });
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }
  /** Vectors the guest allocated (2^MME). */
  get allocated(): number {
    return 1 << ((this.cfg.get16(this.offset + this.regs.control) & MSI_CTRL_MME_MASK) >>> MSI_CTRL_MME_SHIFT);
  }

  notify(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.capable) {
      this.stats.badVectorNotifies++;
      return;
    }
    const alloc = this.allocated;
    if (v >= alloc) {
      this.stats.aliasedNotifies++;
      v &= alloc - 1;
    }
    this.engine.notify(v);
  }

  isMasked(v: number): boolean {
    if (!this.enabledFlag || v >= this.allocated) return true;
    const m = this.regs.mask;
    return m !== undefined && ((this.cfg.get32(this.offset + m) >>> v) & 1) === 1;
  }

  isPending(v: number): boolean {
    const p = this.regs.pending;
    const bits = p === undefined ? this.hiddenPending : this.cfg.get32(this.offset + p);
    return ((bits >>> v) & 1) === 1;
  }

  /** The message vector `v` sends: its index replaces the low MME bits of the data. */
  message(v: number): MsiMessage {
    const r = this.regs;
    const alloc = this.allocated;
    const data = this.cfg.get16(this.offset + r.data);
    return {
      addressLo: this.cfg.get32(this.offset + r.addressLo),
      addressHi: r.addressHi === undefined ? 0 : this.cfg.get32(this.offset + r.addressHi),
      data: ((data & ~(alloc - 1)) | (v & (alloc - 1))) >>> 0,
    };
  }

  vectorStats(v: number): VectorCounters {
    return this.engine.stats(v);
  }
  setNotifier(n: VectorNotifier | null): void {
    this.engine.setNotifier(n);
  }
  setSender(s: VectorSender): void {
    this.engine.setSender(s);
  }
  setPollHook(poll: ((first: number, last: number) => void) | undefined): void {
    this.opts.poll = poll;
  }

  /** Function reset: disabled, one vector, address/data 0, no mask or pending bits (§6.8.1). */
  reset(): void {
    const r = this.regs;
    const ctlOff = this.offset + r.control;
    this.cfg.set16(ctlOff, this.cfg.get16(ctlOff) & ~(MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK));
    for (let o = r.addressLo; o < r.length; o += 2) this.cfg.set16(this.offset + o, 0);
    this.hiddenPending = 0;
    this.controlWritten();
  }

  private controlWritten(): void {
    const ctlOff = this.offset + this.regs.control;
    let ctl = this.cfg.get16(ctlOff);
    const mmc = (ctl >>> MSI_CTRL_MMC_SHIFT) & 0x7;
    if (((ctl & MSI_CTRL_MME_MASK) >>> MSI_CTRL_MME_SHIFT) > mmc) {
      this.stats.mmeClamped++;
      ctl = (ctl & ~MSI_CTRL_MME_MASK) | (mmc << MSI_CTRL_MME_SHIFT);
      this.cfg.set16(ctlOff, ctl);
    }
    const enabled = (ctl & MSI_CTRL_ENABLE) !== 0;
    if (enabled !== this.enabledFlag) {
      this.enabledFlag = enabled;
      this.opts.onEnableChange?.(enabled);
    }
    this.engine.refreshAll();
  }

  private setPendingBit(v: number, pending: boolean): void {
    const p = this.regs.pending;
    const bits = p === undefined ? this.hiddenPending : this.cfg.get32(this.offset + p);
    const next = pending ? bits | (1 << v) : bits & ~(1 << v);
    if (p === undefined) this.hiddenPending = next >>> 0;
    else this.cfg.set32(this.offset + p, next >>> 0);
  }

  private poll(): void {
    if (!this.opts.poll) return;
    this.stats.pendingPolls++;
    this.opts.poll(0, this.capable - 1);
  }
}
