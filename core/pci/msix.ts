// MSI-X (PCI Local Bus 3.0 §6.8.2): the capability in config space, the vector table and the
// Pending Bit Array, both served from BARs at configurable offsets (they may share a BAR with
// each other and with device registers: compose them with BarRegionMap). Data flow: the
// device calls notify(v); the vector engine (vectors.ts) sends the entry's current message
// or, when the vector is effectively masked (MSI-X disabled, Function Mask, or the entry's
// Mask bit: QEMU's msix_is_masked), sets its PBA bit; guest writes to Message Control and to
// table entries re-evaluate the touched vectors, which fires the vector notifier and
// delivers pending vectors on unmask. PBA reads run the poll hook first so the interrupt
// layer can fold in events that reached a masked vector's eventfd (it calls notify(v)).
//
// Access rules chosen from §6.8.2 ("software must use aligned full DWORD or aligned full
// QWORD transactions; otherwise, the result is undefined"): aligned DWORD and aligned QWORD
// accesses work (a QWORD is handled as its two DWORDs, low first; the machine already splits
// 8-byte MMIO that way); any other size or alignment reads 0 and writes nothing, counted.
// Message Address bits 1:0 are read-only 0 (§6.8.2.6 permits it and requires 0 after reset);
// Vector Control bits 31:1 are reserved and read 0 (§6.8.2.9); the PBA is read-only
// (§6.8.2.10: writes are ignored). Reset state: all entries masked, address/data 0 (§6.8.2.9).
import type { IoDevice } from '../bus/types.js';
import type { MsiMessage } from '../irq/types.js';
import type { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import { BAR_COUNT, CAP_ID } from './regs.js';
import { VectorEngine, type VectorCounters, type VectorNotifier, type VectorSender } from './vectors.js';

export const MSIX_MAX_VECTORS = 2048;
export const MSIX_CAP_LENGTH = 12;
/** Capability registers (§6.8.2.1-6.8.2.5), relative to the capability. */
export const MSIX_CAP = { control: 2, table: 4, pba: 8 } as const;
export const MSIX_CTRL_TABLE_SIZE = 0x07ff; // bits 10:0, N-1, read-only
export const MSIX_CTRL_FUNCTION_MASK = 1 << 14;
export const MSIX_CTRL_ENABLE = 1 << 15;
export const MSIX_BIR_MASK = 0x7; // Table/PBA Offset register bits 2:0
/** Table entry layout (§6.8.2.6-6.8.2.9). */
export const MSIX_ENTRY_SIZE = 16;
export const MSIX_ENTRY = { addressLo: 0, addressHi: 4, data: 8, vectorControl: 12 } as const;
export const MSIX_VECTOR_MASKED = 1 << 0;
const ADDRESS_LO_WRITABLE = 0xfffffffc;

export interface MsixLayout {
  /** Table size N, 1..2048. */
  vectors: number;
  tableBar: number;
  /** Byte offset of the table inside its BAR, QWORD aligned. */
  tableOffset: number;
  pbaBar: number;
  pbaOffset: number;
}

export interface MsixOptions {
  sender: VectorSender;
  /** MSI-X Enable changed: while enabled the function must not use INTx (§6.8.2.3). */
  onEnableChange?(enabled: boolean): void;
  /** Before a PBA read covering vectors [first, last]. */
  poll?(first: number, last: number): void;
}

/** A sub-region of a BAR the capability needs served (give it to BarRegionMap.add). */
export interface MsixRegion {
  bar: number;
  offset: number;
  length: number;
  device: IoDevice;
}

export function msixPbaBytes(vectors: number): number {
  return Math.ceil(vectors / 64) * 8;
}

function validateLayout(l: MsixLayout): void {
  if (!Number.isInteger(l.vectors) || l.vectors < 1 || l.vectors > MSIX_MAX_VECTORS) {
    throw new PciConfigError(`MSI-X vector count ${l.vectors} is not 1..${MSIX_MAX_VECTORS}`);
  }
  for (const [what, bar, off] of [['table', l.tableBar, l.tableOffset], ['PBA', l.pbaBar, l.pbaOffset]] as const) {
    if (!Number.isInteger(bar) || bar < 0 || bar >= BAR_COUNT) throw new PciConfigError(`MSI-X ${what} BAR ${bar} is not 0..5`);
    if (!Number.isSafeInteger(off) || off < 0 || off % 8 !== 0 || off >= 2 ** 32) {
      throw new PciConfigError(`MSI-X ${what} offset 0x${off.toString(16)} is not a QWORD-aligned 32-bit offset`);
    }
  }
  const tEnd = l.tableOffset + l.vectors * MSIX_ENTRY_SIZE;
  const pEnd = l.pbaOffset + msixPbaBytes(l.vectors);
  if (l.tableBar === l.pbaBar && l.tableOffset < pEnd && l.pbaOffset < tEnd) {
    throw new PciConfigError('MSI-X table and PBA overlap (§6.8.2: they may share a BAR but not overlap)');
  }
}

export class MsixCapability {
  /** Offset of the capability in config space. */
  readonly offset: number;
  readonly vectors: number;
  readonly layout: Readonly<MsixLayout>;
  readonly table: IoDevice;
  readonly pba: IoDevice;
  private readonly entries: Uint32Array;
  private readonly pbaBits: Uint32Array;
  private readonly hostWriteCounts: Float64Array;
  private readonly engine: VectorEngine;
  private enabledFlag = false;
  private functionMaskFlag = false;
  private pollHook: ((first: number, last: number) => void) | undefined;
  readonly stats = {
    /** Table/PBA accesses of a size or alignment §6.8.2 leaves undefined (ignored / read 0). */
    badAccesses: 0,
    /** Writes that set reserved Vector Control bits or address bits 1:0 (dropped). */
    reservedBitWrites: 0,
    pbaWrites: 0,
    pbaPolls: 0,
    /** notify() with a vector outside the table (a device-model bug; dropped). */
    badVectorNotifies: 0,
    /** Message Address/Data written while the vector was unmasked (§6.8.2: undefined; we follow it). */
    unmaskedMessageWrites: 0,
    /** Table writes the VMM made for the user (hostWrite: mask/unmask from the UI or CLI). */
    hostWrites: 0,
  };

  constructor(
    private readonly cfg: ConfigSpace,
    layout: MsixLayout,
    private readonly opts: MsixOptions,
  ) {
    validateLayout(layout);
    this.layout = { ...layout };
    this.vectors = layout.vectors;
    this.pollHook = opts.poll;
    this.entries = new Uint32Array(this.vectors * 4);
    this.pbaBits = new Uint32Array(msixPbaBytes(this.vectors) / 4);
    this.hostWriteCounts = new Float64Array(this.vectors);
    this.engine = new VectorEngine(this.vectors, {
      isMasked: (v) => this.isMasked(v),
      message: (v) => this.message(v),
      isPending: (v) => this.isPending(v),
      setPendingBit: (v, p) => {
        if (p) this.pbaBits[v >>> 5]! |= 1 << (v & 31);
        else this.pbaBits[v >>> 5]! &= ~(1 << (v & 31));
      },
    }, opts.sender);

    const off = cfg.addCapability(CAP_ID.msix, MSIX_CAP_LENGTH);
    this.offset = off;
    cfg.set16(off + MSIX_CAP.control, this.vectors - 1);
    cfg.setWriteMask(off + MSIX_CAP.control, 2, MSIX_CTRL_FUNCTION_MASK | MSIX_CTRL_ENABLE);
    cfg.set32(off + MSIX_CAP.table, layout.tableOffset | layout.tableBar);
    cfg.set32(off + MSIX_CAP.pba, layout.pbaOffset | layout.pbaBar);
    cfg.watch(off + MSIX_CAP.control, 2, { afterWrite: () => this.controlWritten() });

    this.table = {
      name: 'msix-table',
      read: (o, s) => this.access(o, s, this.entries.length * 4, (dw) => this.entries[dw]!),
      write: (o, s, v) => this.tableWrite(o, s, v),
    };
    this.pba = {
      name: 'msix-pba',
      read: (o, s) => this.access(o, s, this.pbaBits.length * 4, (dw) => this.pbaRead(dw)),
      write: () => {
        this.stats.pbaWrites++;
      },
    };
    this.resetEntries();
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }
  get functionMasked(): boolean {
    return this.functionMaskFlag;
  }

  /** Table and PBA placements for the device's BARs. */
  regions(): MsixRegion[] {
    const l = this.layout;
    return [
      { bar: l.tableBar, offset: l.tableOffset, length: this.vectors * MSIX_ENTRY_SIZE, device: this.table },
      { bar: l.pbaBar, offset: l.pbaOffset, length: msixPbaBytes(this.vectors), device: this.pba },
    ];
  }

  /** The device signals vector `v`: send it, or set its pending bit if masked. */
  notify(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.vectors) {
      this.stats.badVectorNotifies++;
      return;
    }
    this.engine.notify(v);
  }

  /**
   * Mirror a pending state owned by the interrupt layer (an event latched on a masked
   * vector's eventfd) into the PBA, without sending anything. Clearing it before the
   * engine's unmask check is what keeps the engine from sending the vector a second time.
   */
  setPending(v: number, pending: boolean): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.vectors) {
      this.stats.badVectorNotifies++;
      return;
    }
    if (pending) this.pbaBits[v >>> 5]! |= 1 << (v & 31);
    else this.pbaBits[v >>> 5]! &= ~(1 << (v & 31));
  }

  isMasked(v: number): boolean {
    return !this.enabledFlag || this.functionMaskFlag || (this.entries[v * 4 + 3]! & MSIX_VECTOR_MASKED) !== 0;
  }
  isPending(v: number): boolean {
    return ((this.pbaBits[v >>> 5]! >>> (v & 31)) & 1) === 1;
  }
  message(v: number): MsiMessage {
    const at = v * 4;
    return { addressLo: this.entries[at]!, addressHi: this.entries[at + 1]!, data: this.entries[at + 2]! };
  }
  vectorStats(v: number): VectorCounters {
    return this.engine.stats(v);
  }

  /**
   * A DWORD write to entry `v`'s `field` made by the VMM on the user's behalf (a host-side
   * mask or unmask). It takes the very path a guest MMIO write takes (the table IoDevice), so
   * pending bits and delivery on unmask behave exactly as for the guest; it is counted apart.
   */
  hostWrite(v: number, field: keyof typeof MSIX_ENTRY, value: number): void {
    if (!Number.isInteger(v) || v < 0 || v >= this.vectors) throw new PciConfigError(`no MSI-X vector ${v} (the table has ${this.vectors})`);
    this.stats.hostWrites++;
    this.hostWriteCounts[v]!++;
    this.table.write(v * MSIX_ENTRY_SIZE + MSIX_ENTRY[field], 4, value >>> 0);
  }

  /** Host writes made to entry `v` (hostWrite). */
  hostWrites(v: number): number {
    return this.hostWriteCounts[v] ?? 0;
  }

  setNotifier(n: VectorNotifier | null): void {
    this.engine.setNotifier(n);
  }
  setSender(s: VectorSender): void {
    this.engine.setSender(s);
  }
  setPollHook(poll: ((first: number, last: number) => void) | undefined): void {
    this.pollHook = poll;
  }

  /** Function reset: disabled, not function-masked, every entry masked and zero, PBA clear. */
  reset(): void {
    const ctl = this.offset + MSIX_CAP.control;
    this.cfg.set16(ctl, this.cfg.get16(ctl) & MSIX_CTRL_TABLE_SIZE);
    this.resetEntries();
    this.pbaBits.fill(0);
    this.controlWritten();
  }

  private resetEntries(): void {
    this.entries.fill(0);
    for (let v = 0; v < this.vectors; v++) this.entries[v * 4 + 3] = MSIX_VECTOR_MASKED;
  }

  private controlWritten(): void {
    const ctl = this.cfg.get16(this.offset + MSIX_CAP.control);
    const enabled = (ctl & MSIX_CTRL_ENABLE) !== 0;
    const fmask = (ctl & MSIX_CTRL_FUNCTION_MASK) !== 0;
    const enableChanged = enabled !== this.enabledFlag;
    if (!enableChanged && fmask === this.functionMaskFlag) return;
    this.enabledFlag = enabled;
    this.functionMaskFlag = fmask;
    // INTx first, like QEMU's msix_write_config (it deasserts INTx before handling masks).
    if (enableChanged) this.opts.onEnableChange?.(enabled);
    this.engine.refreshAll();
  }

  /** Validate an access and run `get` per DWORD; QWORDs return low + high * 2^32. */
  private access(offset: number, size: number, length: number, get: (dword: number) => number): number {
    if (!this.validAccess(offset, size, length)) {
      this.stats.badAccesses++;
      return 0;
    }
    const dw = offset >>> 2;
    if (size === 4) return get(dw);
    const lo = get(dw);
    return get(dw + 1) * 2 ** 32 + lo;
  }

  private validAccess(offset: number, size: number, length: number): boolean {
    return (
      Number.isSafeInteger(offset) && offset >= 0 && offset + size <= length && ((size === 4 && offset % 4 === 0) || (size === 8 && offset % 8 === 0))
    );
  }

  private tableWrite(offset: number, size: number, value: number): void {
    if (!this.validAccess(offset, size, this.entries.length * 4)) {
      this.stats.badAccesses++;
      return;
    }
    const v = Number.isFinite(value) ? value : 0;
    if (size === 4) {
      this.writeDword(offset >>> 2, v >>> 0);
    } else {
      this.writeDword(offset >>> 2, v >>> 0);
      this.writeDword((offset >>> 2) + 1, Math.floor(v / 2 ** 32) >>> 0);
    }
  }

  private writeDword(dw: number, value: number): void {
    const vector = dw >>> 2;
    const field = dw & 3;
    let stored = value;
    if (field === 0) {
      if (value & ~ADDRESS_LO_WRITABLE) this.stats.reservedBitWrites++;
      stored = (value & ADDRESS_LO_WRITABLE) >>> 0;
    } else if (field === 3) {
      if (value & ~MSIX_VECTOR_MASKED) this.stats.reservedBitWrites++;
      stored = value & MSIX_VECTOR_MASKED;
    }
    if (field !== 3 && !this.isMasked(vector) && this.entries[dw] !== stored) this.stats.unmaskedMessageWrites++;
    this.entries[dw] = stored;
    this.engine.refresh(vector);
  }

  private pbaRead(dw: number): number {
    const first = dw * 32;
    if (this.pollHook && first < this.vectors) {
      this.stats.pbaPolls++;
      this.pollHook(first, Math.min(first + 31, this.vectors - 1));
    }
    return this.pbaBits[dw]!;
  }
}
