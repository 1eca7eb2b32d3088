// IOAPIC redirection table entry (RTE) layout and its translation into the x86 MSI message
// that the split-irqchip machine installs as the pin's KVM GSI route. An RTE is kept as two
// 32-bit words (lo = bits 31:0, hi = bits 63:32) so no bigint is needed on the MMIO path.
// Field layout: Intel 82093AA datasheet 3.2.4 "IOREDTBL"; extended destination ID bits
// 55:49 as defined for KVM guests (KVM_FEATURE_MSI_EXT_DEST_ID, Linux virt_ext_dest_id).
import type { MsiMessage } from '../irq/types.js';

// Low word.
export const RTE_VECTOR_MASK = 0xff; // 7:0
export const RTE_DELIVERY_MODE_SHIFT = 8; // 10:8
export const RTE_DELIVERY_MODE_MASK = 0x7 << RTE_DELIVERY_MODE_SHIFT;
export const RTE_DEST_LOGICAL = 1 << 11; // DESTMOD
export const RTE_DELIVERY_STATUS = 1 << 12; // DELIVS, read-only
export const RTE_ACTIVE_LOW = 1 << 13; // INTPOL
export const RTE_REMOTE_IRR = 1 << 14; // read-only
export const RTE_LEVEL = 1 << 15; // trigger mode
export const RTE_MASKED = 1 << 16;
export const RTE_LO_READ_ONLY = RTE_DELIVERY_STATUS | RTE_REMOTE_IRR;
export const RTE_LO_DEFINED = 0x1ffff; // bits 31:17 are reserved
// High word.
export const RTE_HI_DEST_SHIFT = 24; // bits 63:56
export const RTE_HI_EXT_DEST_SHIFT = 17; // bits 55:49
export const RTE_HI_EXT_DEST_MASK = 0x7f << RTE_HI_EXT_DEST_SHIFT;
export const RTE_HI_DEFINED = 0xff000000 | RTE_HI_EXT_DEST_MASK; // bits 48:32 are reserved

// MSI address/data (Intel SDM vol. 3, 11.11.1 and 11.11.2).
export const MSI_ADDRESS_BASE = 0xfee00000;
const MSI_ADDR_DEST_SHIFT = 12; // 19:12 destination ID
const MSI_ADDR_EXT_DEST_SHIFT = 5; // 11:5 extended destination ID (bits 14:8 of the APIC ID)
const MSI_ADDR_DEST_LOGICAL = 1 << 2; // DM
const MSI_DATA_DELIVERY_MODE_SHIFT = 8; // 10:8
const MSI_DATA_LEVEL_ASSERT = 1 << 14; // "Level": assert (must be 1 for level triggered)
const MSI_DATA_TRIGGER_LEVEL = 1 << 15;

export interface RteWords {
  lo: number;
  hi: number;
}

const DELIVERY_MODES = ['fixed', 'lowest', 'smi', 'reserved3', 'nmi', 'init', 'reserved6', 'extint'] as const;

export const rteVector = (lo: number): number => lo & RTE_VECTOR_MASK;
export const rteDeliveryMode = (lo: number): number => (lo & RTE_DELIVERY_MODE_MASK) >>> RTE_DELIVERY_MODE_SHIFT;
export const rteIsLevel = (lo: number): boolean => (lo & RTE_LEVEL) !== 0;
export const rteIsMasked = (lo: number): boolean => (lo & RTE_MASKED) !== 0;
export const rteDestination = (hi: number): number => hi >>> RTE_HI_DEST_SHIFT;
export const rteExtDestination = (hi: number): number => (hi & RTE_HI_EXT_DEST_MASK) >>> RTE_HI_EXT_DEST_SHIFT;
export const deliveryModeName = (mode: number): string => DELIVERY_MODES[mode & 7]!;

function toWords(rte: RteWords | bigint): RteWords {
  if (typeof rte !== 'bigint') return { lo: rte.lo >>> 0, hi: rte.hi >>> 0 };
  return { lo: Number(rte & 0xffffffffn), hi: Number((rte >> 32n) & 0xffffffffn) };
}

/**
 * The MSI message equivalent of an RTE: destination 63:56 -> address 19:12, extended
 * destination 55:49 -> address 11:5, destination mode 11 -> address 2; vector, delivery
 * mode and trigger mode into data (level-triggered entries also carry Level = assert).
 * Polarity has no MSI encoding: it describes the input pin and is applied before setIrq().
 */
export function msiFromRte(rte: RteWords | bigint): MsiMessage {
  const { lo, hi } = toWords(rte);
  const level = rteIsLevel(lo);
  return {
    addressLo:
      (MSI_ADDRESS_BASE |
        (rteDestination(hi) << MSI_ADDR_DEST_SHIFT) |
        (rteExtDestination(hi) << MSI_ADDR_EXT_DEST_SHIFT) |
        (lo & RTE_DEST_LOGICAL ? MSI_ADDR_DEST_LOGICAL : 0)) >>> 0,
    addressHi: 0,
    data:
      rteVector(lo) |
      (rteDeliveryMode(lo) << MSI_DATA_DELIVERY_MODE_SHIFT) |
      (level ? MSI_DATA_TRIGGER_LEVEL | MSI_DATA_LEVEL_ASSERT : 0),
  };
}

export function sameMsi(a: MsiMessage | null, b: MsiMessage | null): boolean {
  if (a === null || b === null) return a === b;
  return a.addressLo === b.addressLo && a.addressHi === b.addressHi && a.data === b.data;
}

const hex = (v: number, width: number) => v.toString(16).padStart(width, '0');

/** One line of the per-pin view, in the style of QEMU's `info pic` for its IOAPIC. */
export function formatRte(pin: number, rte: RteWords, irr: boolean): string {
  const { lo, hi } = rte;
  const logical = (lo & RTE_DEST_LOGICAL) !== 0;
  const dest = (rteExtDestination(hi) << 8) | rteDestination(hi);
  const level = rteIsLevel(lo);
  return (
    `  pin ${String(pin).padEnd(2)} 0x${hex(hi, 8)}${hex(lo, 8)} dest=${dest.toString(16)} ` +
    `vec=${String(rteVector(lo)).padEnd(3)} ${lo & RTE_ACTIVE_LOW ? 'active-lo' : 'active-hi'} ` +
    `${(level ? 'level' : 'edge').padEnd(5)} ${(rteIsMasked(lo) ? 'masked' : '').padEnd(6)} ` +
    `${deliveryModeName(rteDeliveryMode(lo)).padEnd(6)} ${logical ? 'logical ' : 'physical'} ` +
    `${irr ? 'IRR' : '   '} ${level && lo & RTE_REMOTE_IRR ? 'rIRR' : ''}`.trimEnd()
  );
}
