// Configuration space of one PCI function: 4 KiB of registers (PCI Express extended space;
// conventional functions simply leave 0x100-0xFFF reading 0) with a per-byte write mask and a
// per-byte write-1-to-clear mask. Guest accesses (from the host bridge's CF8/CFC or ECAM
// decoders) go through read()/write(): the stored bytes change only where the masks allow, then
// the hooks watching the touched bytes run (BARs, command register, MSI/MSI-X capabilities).
// Device-side code uses the get/set accessors, which bypass the masks (a device may change
// its own read-only registers, e.g. the MSI pending bits or the status interrupt bit).
import { PciConfigError } from './errors.js';
import {
  CAP_AREA_START,
  CAP_PTR_MASK,
  CMD_WRITABLE,
  HEADER_TYPE_NORMAL,
  INTX_PIN,
  PCI_CONFIG_SIZE,
  PCIE_CONFIG_SIZE,
  REG,
  STATUS_CAP_LIST,
  STATUS_W1C,
} from './regs.js';

/** Callbacks for a watched byte range; offsets are absolute config-space offsets. */
export interface ConfigHooks {
  /** Before the guest reads bytes overlapping the range (registers computed on demand). */
  beforeRead?(offset: number, size: number): void;
  /** After a guest write was applied to the bytes overlapping the range. */
  afterWrite?(offset: number, size: number): void;
}

interface Watch extends ConfigHooks {
  start: number;
  end: number;
}

export interface HeaderInit {
  vendorId: number;
  deviceId: number;
  /** 24-bit class code: base class << 16 | subclass << 8 | programming interface. */
  classCode: number;
  revision?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** Interrupt Pin register: 0 none, 1..4 = INTA#..INTD#. */
  interruptPin?: number;
  multiFunction?: boolean;
}

export interface CapabilityInfo {
  id: number;
  offset: number;
}

/** The all-ones value a failed read returns at each access size. */
export function allOnes(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

export class ConfigSpace {
  private readonly data: Uint8Array;
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  private readonly watches: Watch[] = [];
  /** Where the next standard capability may go, and the last one in the chain (0: none). */
  private capCursor = CAP_AREA_START;
  private lastCap = 0;
  readonly stats = {
    reads: 0,
    writes: 0,
    /** Sizes other than 1/2/4, offsets outside the space, or accesses crossing a dword. */
    badAccesses: 0,
    /** Writes that tried to change read-only bits (the bits kept their value). */
    readOnlyBitWrites: 0,
  };

  constructor(readonly size: number = PCIE_CONFIG_SIZE) {
    if (size !== PCI_CONFIG_SIZE && size !== PCIE_CONFIG_SIZE) throw new PciConfigError(`config space size ${size} is neither 256 nor 4096`);
    this.data = new Uint8Array(size);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
  }

  // ---- guest accesses -------------------------------------------------------------------

  /**
   * A guest read of 1, 2 or 4 bytes. Byte enables within one dword are what the bus carries
   * (PCI 3.0 §3.2.2.3.2; PCIe §7.2.2: no request crosses a dword), so an access that would
   * cross one, or a bad size or offset, reads all-ones like a master abort and is counted.
   */
  read(offset: number, size: number): number {
    this.stats.reads++;
    if (!this.validAccess(offset, size)) {
      this.stats.badAccesses++;
      return allOnes(size);
    }
    for (const w of this.watches) {
      if (w.beforeRead && offset < w.end && w.start < offset + size) w.beforeRead(offset, size);
    }
    return this.getBytes(offset, size);
  }

  /** A guest write: bits outside the write mask keep their value, W1C bits clear on 1. */
  write(offset: number, size: number, value: number): void {
    this.stats.writes++;
    if (!this.validAccess(offset, size)) {
      this.stats.badAccesses++;
      return;
    }
    const v = Number.isFinite(value) ? value >>> 0 : 0;
    let roTouched = false;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const b = (v >>> (8 * i)) & 0xff;
      const wm = this.wmask[at]!;
      const cm = this.w1cmask[at]!;
      const old = this.data[at]!;
      const next = ((old & ~wm) | (b & wm)) & ~(b & cm) & 0xff;
      if ((b & ~(wm | cm) & 0xff) !== (old & ~(wm | cm) & 0xff)) roTouched = true;
      this.data[at] = next;
    }
    if (roTouched) this.stats.readOnlyBitWrites++;
    for (const w of this.watches) {
      if (w.afterWrite && offset < w.end && w.start < offset + size) w.afterWrite(offset, size);
    }
  }

  private validAccess(offset: number, size: number): boolean {
    return (
      (size === 1 || size === 2 || size === 4) &&
      Number.isInteger(offset) &&
      offset >= 0 &&
      offset + size <= this.size &&
      (offset & 3) + size <= 4
    );
  }

  // ---- device-side accessors (no masks, no hooks) -----------------------------------------

  getBytes(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.data[offset + i]! << (8 * i);
    return v >>> 0;
  }
  setBytes(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.data[offset + i] = (value >>> (8 * i)) & 0xff;
  }
  get8(o: number): number {
    return this.data[o]!;
  }
  get16(o: number): number {
    return this.getBytes(o, 2);
  }
  get32(o: number): number {
    return this.getBytes(o, 4);
  }
  set8(o: number, v: number): void {
    this.setBytes(o, 1, v);
  }
  set16(o: number, v: number): void {
    this.setBytes(o, 2, v);
  }
  set32(o: number, v: number): void {
    this.setBytes(o, 4, v);
  }

  /** Which bits of the `size`-byte register at `offset` the guest may write. */
  setWriteMask(offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.wmask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }
  /** Which bits of the register are write-1-to-clear (they must not also be in the write mask). */
  setW1cMask(offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.w1cmask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }
  writeMask(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.wmask[offset + i]! << (8 * i);
    return v >>> 0;
  }

  /** Run `hooks` on guest accesses touching [start, start+length). */
  watch(start: number, length: number, hooks: ConfigHooks): void {
    if (start < 0 || length <= 0 || start + length > this.size) throw new PciConfigError(`watch 0x${start.toString(16)}+${length} is outside config space`);
    this.watches.push({ start, end: start + length, ...hooks });
  }

  // ---- type 0 header ----------------------------------------------------------------------

  /** Fill the identification registers and give the header its standard write masks. */
  initHeader(h: HeaderInit): void {
    const pin = h.interruptPin ?? INTX_PIN.none;
    if (!Number.isInteger(pin) || pin < INTX_PIN.none || pin > INTX_PIN.INTD) throw new PciConfigError(`interrupt pin ${pin} is not 0..4`);
    this.set16(REG.vendorId, h.vendorId);
    this.set16(REG.deviceId, h.deviceId);
    this.set8(REG.revisionId, h.revision ?? 0);
    this.set8(REG.progIf, h.classCode & 0xff);
    this.set8(REG.subclass, (h.classCode >>> 8) & 0xff);
    this.set8(REG.classCode, (h.classCode >>> 16) & 0xff);
    this.set8(REG.headerType, HEADER_TYPE_NORMAL | (h.multiFunction ? 0x80 : 0));
    this.set16(REG.subsystemVendorId, h.subsystemVendorId ?? 0);
    this.set16(REG.subsystemId, h.subsystemId ?? 0);
    this.set8(REG.interruptPin, pin);
    this.setWriteMask(REG.command, 2, CMD_WRITABLE);
    this.setW1cMask(REG.status, 2, STATUS_W1C);
    this.setWriteMask(REG.cacheLineSize, 1, 0xff);
    this.setWriteMask(REG.interruptLine, 1, 0xff);
  }

  // ---- capability list (PCI 3.0 §6.7) -----------------------------------------------------

  /**
   * Reserve `length` bytes for a capability with `id`, append it to the chain that starts at
   * 0x34 and return its offset. ID and next pointer are read-only; the caller programs the
   * rest of the structure (values, masks, hooks).
   */
  addCapability(id: number, length: number): number {
    const offset = this.capCursor;
    if (!Number.isInteger(length) || length < 2 || offset + length > PCI_CONFIG_SIZE) {
      throw new PciConfigError(`capability 0x${id.toString(16)} of ${length} bytes does not fit in the standard config space`);
    }
    this.set8(offset, id);
    this.set8(offset + 1, 0);
    if (this.lastCap === 0) {
      this.set8(REG.capabilitiesPtr, offset);
      this.set16(REG.status, this.get16(REG.status) | STATUS_CAP_LIST);
    } else {
      this.set8(this.lastCap + 1, offset);
    }
    this.lastCap = offset;
    this.capCursor = (offset + length + 3) & ~3;
    return offset;
  }

  /** Walk the chain as a guest would (bounded, so a corrupted chain cannot loop forever). */
  capabilities(): CapabilityInfo[] {
    const out: CapabilityInfo[] = [];
    if (!(this.get16(REG.status) & STATUS_CAP_LIST)) return out;
    let ptr = this.get8(REG.capabilitiesPtr) & CAP_PTR_MASK;
    for (let n = 0; ptr !== 0 && n < 48; n++) {
      out.push({ id: this.get8(ptr), offset: ptr });
      ptr = this.get8(ptr + 1) & CAP_PTR_MASK;
    }
    return out;
  }

  findCapability(id: number): number | undefined {
    return this.capabilities().find((c) => c.id === id)?.offset;
  }
}
