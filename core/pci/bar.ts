// Base Address Registers of one function (PCI 3.0 §6.2.5.1). Each BAR is defined by the device
// (kind, size, prefetchable, the IoDevice that serves its registers); the guest sizes it by
// writing all-ones and reading back (the write mask makes the low address bits read 0), then
// programs an address. A BAR decodes only while the command register's I/O or Memory Space
// bit is set. After every guest write to a BAR or the command register the set recomputes the
// decoded ranges and, for each BAR whose range changed, calls the listener with
// (old range | null, new range | null) so the machine can move the region on its IoBus
// (bar-mapper.ts does that and refuses placements over RAM or other devices).
import type { IoDevice } from '../bus/types.js';
import type { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import {
  BAR_COUNT,
  BAR_IO_FLAG_BITS,
  BAR_MEM_FLAG_BITS,
  BAR_MEM_PREFETCH,
  BAR_MEM_TYPE_64,
  BAR_SPACE_IO,
  CMD_IO,
  CMD_MEMORY,
  REG,
} from './regs.js';

export type BarKind = 'io' | 'mem32' | 'mem64';

export interface BarDefinition {
  /** BAR register index 0..5; a 64-bit BAR also takes index+1 for its upper half. */
  index: number;
  kind: BarKind;
  /** Power of two: I/O 4..256 bytes (PCI 3.0 §6.2.5.1), memory >= 16 bytes. */
  size: number;
  prefetchable?: boolean;
  /** Serves accesses at offsets [0, size) of the BAR once it is mapped. */
  handler: IoDevice;
}

export interface BarRange {
  index: number;
  space: 'io' | 'mmio';
  base: number;
  size: number;
}

/** Why a BAR decodes nothing right now. */
export type BarDecodeState = 'mapped' | 'decode-off' | 'unprogrammed' | 'sizing' | 'out-of-range';

export type BarChangeListener = (bar: Bar, oldRange: BarRange | null, newRange: BarRange | null) => void;

/** The largest memory BAR: addresses must stay exact JavaScript numbers (2^53). */
export const MAX_MEM_BAR_SIZE = 2 ** 48;
/** I/O BARs decode 16 address bits here (x86 port space); bits 31:16 are hardwired 0. */
const IO_ADDRESS_MASK = 0xfffc;
const TWO_32 = 2 ** 32;

export interface Bar {
  readonly def: BarDefinition;
  /** The range the BAR decodes now, or null. */
  readonly range: BarRange | null;
  readonly state: BarDecodeState;
}

class BarState implements Bar {
  range: BarRange | null = null;
  state: BarDecodeState = 'decode-off';
  constructor(readonly def: BarDefinition) {}
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

export class BarSet {
  private readonly bars: BarState[] = [];
  private listener: BarChangeListener | null = null;
  readonly stats = {
    /** Effective range changes reported to the listener. */
    changes: 0,
    /** Recomputations that left a decode-enabled BAR unmapped, by reason. */
    unprogrammed: 0,
    sizing: 0,
    outOfRange: 0,
  };

  /**
   * @param addressLimit first guest-physical address a memory BAR may not reach (the MMIO
   * bus limit; 2^52 matches the machine's bus). Anything programmed above decodes nothing.
   */
  constructor(
    private readonly cfg: ConfigSpace,
    defs: readonly BarDefinition[],
    private readonly addressLimit = 2 ** 52,
  ) {
    const taken = new Set<number>();
    for (const def of defs) {
      this.validate(def, taken);
      this.bars.push(new BarState(def));
      this.initRegister(def);
    }
    cfg.watch(REG.bar0, BAR_COUNT * 4, { afterWrite: () => this.update() });
    cfg.watch(REG.command, 2, { afterWrite: () => this.update() });
  }

  private validate(def: BarDefinition, taken: Set<number>): void {
    const slots = def.kind === 'mem64' ? [def.index, def.index + 1] : [def.index];
    if (!Number.isInteger(def.index) || slots.some((s) => s < 0 || s >= BAR_COUNT)) {
      throw new PciConfigError(`BAR ${def.index} (${def.kind}) does not fit in BAR registers 0..5`);
    }
    if (slots.some((s) => taken.has(s))) throw new PciConfigError(`BAR register ${def.index} is defined twice`);
    slots.forEach((s) => taken.add(s));
    if (!isPowerOfTwo(def.size)) throw new PciConfigError(`BAR ${def.index} size ${def.size} is not a power of two`);
    if (def.kind === 'io' && (def.size < 4 || def.size > 256)) throw new PciConfigError(`I/O BAR ${def.index} size ${def.size} is not 4..256 bytes`);
    if (def.kind !== 'io' && def.size < 16) throw new PciConfigError(`memory BAR ${def.index} size ${def.size} is below 16 bytes`);
    if (def.kind === 'mem32' && def.size > 2 ** 31) throw new PciConfigError(`32-bit BAR ${def.index} size ${def.size} exceeds 2 GiB`);
    if (def.kind === 'mem64' && def.size > MAX_MEM_BAR_SIZE) throw new PciConfigError(`64-bit BAR ${def.index} size ${def.size} exceeds 2^48`);
    if (def.kind === 'io' && def.prefetchable) throw new PciConfigError(`I/O BAR ${def.index} cannot be prefetchable`);
  }

  /** Type bits are read-only; address bits below the size read 0 (that is how sizing works). */
  private initRegister(def: BarDefinition): void {
    const off = REG.bar0 + def.index * 4;
    if (def.kind === 'io') {
      this.cfg.set32(off, BAR_SPACE_IO);
      this.cfg.setWriteMask(off, 4, IO_ADDRESS_MASK & ~(def.size - 1));
      return;
    }
    const flags = (def.kind === 'mem64' ? BAR_MEM_TYPE_64 : 0) | (def.prefetchable ? BAR_MEM_PREFETCH : 0);
    this.cfg.set32(off, flags);
    if (def.kind === 'mem32') {
      this.cfg.setWriteMask(off, 4, ~(def.size - 1) & ~BAR_MEM_FLAG_BITS);
      return;
    }
    // 64-bit: the size's low bits span both dwords (PCI 3.0 §6.2.5.1, "64-bit BARs").
    const lowMask = def.size >= TWO_32 ? 0 : ~(def.size - 1) & ~BAR_MEM_FLAG_BITS;
    const highMask = def.size > TWO_32 ? ~(def.size / TWO_32 - 1) : 0xffffffff;
    this.cfg.setWriteMask(off, 4, lowMask);
    this.cfg.set32(off + 4, 0);
    this.cfg.setWriteMask(off + 4, 4, highMask);
  }

  /** Attach the listener; BARs already decoding are reported as (null, range) at once. */
  setListener(listener: BarChangeListener | null): void {
    this.listener = listener;
    if (listener) for (const b of this.bars) if (b.range) listener(b, null, b.range);
  }

  list(): readonly Bar[] {
    return this.bars;
  }

  bar(index: number): Bar | undefined {
    return this.bars.find((b) => b.def.index === index);
  }

  /** The address the guest programmed (decoding or not), for the UI. */
  programmedAddress(index: number): number | undefined {
    const b = this.bars.find((x) => x.def.index === index);
    return b ? this.address(b.def) : undefined;
  }

  /** Back to the power-on state: addresses 0 (the command register is reset by the owner). */
  reset(): void {
    for (const b of this.bars) this.initRegister(b.def);
    this.update();
  }

  /** Recompute every BAR's decoded range and report the ones that changed. */
  update(): void {
    const cmd = this.cfg.get16(REG.command);
    for (const b of this.bars) {
      const { state, range } = this.decode(b.def, cmd);
      if (state === 'unprogrammed') this.stats.unprogrammed++;
      else if (state === 'sizing') this.stats.sizing++;
      else if (state === 'out-of-range') this.stats.outOfRange++;
      b.state = state;
      const old = b.range;
      if (old?.base === range?.base && (old === null) === (range === null)) continue;
      b.range = range;
      this.stats.changes++;
      this.listener?.(b, old, range);
    }
  }

  private address(def: BarDefinition): number {
    const off = REG.bar0 + def.index * 4;
    if (def.kind === 'io') return this.cfg.get32(off) & ~BAR_IO_FLAG_BITS;
    const low = (this.cfg.get32(off) & ~BAR_MEM_FLAG_BITS) >>> 0;
    return def.kind === 'mem64' ? this.cfg.get32(off + 4) * TWO_32 + low : low;
  }

  /**
   * Decode rules, as QEMU's pci_bar_address (hw/pci/pci.c): decode bit clear → nothing;
   * address 0 means "not programmed yet"; a 32-bit BAR reaching the last byte below 4 GiB is
   * the all-ones sizing pattern, not a placement; anything past the address limit is unusable.
   */
  private decode(def: BarDefinition, cmd: number): { state: BarDecodeState; range: BarRange | null } {
    const io = def.kind === 'io';
    if (!(cmd & (io ? CMD_IO : CMD_MEMORY))) return { state: 'decode-off', range: null };
    const base = this.address(def);
    if (base === 0) return { state: 'unprogrammed', range: null };
    const last = base + def.size - 1;
    if (def.kind === 'mem32' && last >= TWO_32 - 1) return { state: 'sizing', range: null };
    if (!io && last >= this.addressLimit) return { state: 'out-of-range', range: null };
    return { state: 'mapped', range: { index: def.index, space: io ? 'io' : 'mmio', base, size: def.size } };
  }
}
