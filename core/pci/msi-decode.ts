// x86 MSI message format (Intel SDM vol. 3A §11.11 "Message Signalled Interrupts", numbered
// 10.11 in older editions): decode an address/data pair into the fields the interrupt layer
// and the UI show, and build a message from fields. Extended destination ID: address bits
// 11:5 carry destination bits 14:8 when the hypervisor advertises it
// (KVM_FEATURE_MSI_EXT_DEST_ID; Linux "virt_destid_8_14"); KVM's 32-bit-ID form puts
// destination bits 31:8 into address_hi bits 31:8 (KVM_X2APIC_API_USE_32BIT_IDS).
// Decoding ORs both forms in, as QEMU's kvm_swizzle_msi_ext_dest_id converts one to the other.
import { VmmError } from '../errors.js';
import type { MsiMessage } from '../irq/types.js';

/** Address fields (SDM figure 11-24). */
export const MSI_ADDR_BASE = 0xfee00000;
export const MSI_ADDR_BASE_MASK = 0xfff00000; // bits 31:20 must be 0xFEE
export const MSI_ADDR_DEST_SHIFT = 12; // bits 19:12, destination ID 7:0
export const MSI_ADDR_EXT_DEST_SHIFT = 5; // bits 11:5, destination ID 14:8
export const MSI_ADDR_EXT_DEST_MASK = 0x7f << MSI_ADDR_EXT_DEST_SHIFT;
export const MSI_ADDR_REMAPPABLE = 1 << 4; // interrupt-remapping format (VT-d), not decoded here
export const MSI_ADDR_REDIRECTION_HINT = 1 << 3;
export const MSI_ADDR_DEST_MODE_LOGICAL = 1 << 2;
/** Data fields (SDM figure 11-25). */
export const MSI_DATA_VECTOR_MASK = 0xff;
export const MSI_DATA_DELIVERY_SHIFT = 8; // bits 10:8
export const MSI_DATA_LEVEL_ASSERT = 1 << 14;
export const MSI_DATA_TRIGGER_LEVEL = 1 << 15;

export const DELIVERY_MODES = ['Fixed', 'Lowest Priority', 'SMI', 'Reserved (3)', 'NMI', 'INIT', 'Reserved (6)', 'ExtINT'] as const;
export type DeliveryModeName = (typeof DELIVERY_MODES)[number];
export const DELIVERY_MODE = { fixed: 0, lowestPriority: 1, smi: 2, nmi: 4, init: 5, extInt: 7 } as const;

export interface MsiFields {
  /** Full destination APIC ID (bits 7:0 from the address, 14:8 extended, 31:8 from address_hi). */
  destinationId: number;
  destinationMode: 'physical' | 'logical';
  redirectionHint: boolean;
  vector: number;
  deliveryMode: number;
  trigger: 'edge' | 'level';
  level: 'assert' | 'deassert';
}

export interface DecodedMsi extends MsiFields {
  /** Address is in the 0xFEExxxxx interrupt window (otherwise it is a plain memory write). */
  interruptWindow: boolean;
  /** Address bit 4: remappable format; the other address fields then mean something else. */
  remappable: boolean;
  /** The value of address bits 11:5 (0 when the guest does not use extended destination IDs). */
  extendedDestinationBits: number;
  deliveryModeName: DeliveryModeName;
}

export interface DecodeOptions {
  /** Treat address bits 11:5 as destination bits 14:8 (default true: KVM advertises it). */
  extendedDestId?: boolean;
}

export function decodeMsi(msg: MsiMessage, opts: DecodeOptions = {}): DecodedMsi {
  const lo = msg.addressLo >>> 0;
  const hi = msg.addressHi >>> 0;
  const data = msg.data >>> 0;
  const ext = (lo & MSI_ADDR_EXT_DEST_MASK) >>> MSI_ADDR_EXT_DEST_SHIFT;
  let dest = (lo >>> MSI_ADDR_DEST_SHIFT) & 0xff;
  if (opts.extendedDestId ?? true) dest |= ext << 8;
  // address_hi bits 31:8 are destination bits 31:8; its low byte is not part of an APIC ID.
  dest = (dest | (hi & 0xffffff00)) >>> 0;
  const mode = (data >>> MSI_DATA_DELIVERY_SHIFT) & 0x7;
  return {
    interruptWindow: (lo & MSI_ADDR_BASE_MASK) >>> 0 === MSI_ADDR_BASE,
    remappable: (lo & MSI_ADDR_REMAPPABLE) !== 0,
    extendedDestinationBits: ext,
    destinationId: dest,
    destinationMode: lo & MSI_ADDR_DEST_MODE_LOGICAL ? 'logical' : 'physical',
    redirectionHint: (lo & MSI_ADDR_REDIRECTION_HINT) !== 0,
    vector: data & MSI_DATA_VECTOR_MASK,
    deliveryMode: mode,
    deliveryModeName: DELIVERY_MODES[mode]!,
    trigger: data & MSI_DATA_TRIGGER_LEVEL ? 'level' : 'edge',
    level: data & MSI_DATA_LEVEL_ASSERT ? 'assert' : 'deassert',
  };
}

export interface EncodeOptions {
  /**
   * How to carry destination IDs above 255: 'ext-dest-id' (address bits 11:5, up to 32767)
   * or 'address-hi' (bits 31:8 of the upper address, KVM's 32-bit-ID form). Default ext-dest-id
   * for IDs that fit, address-hi beyond.
   */
  highDestination?: 'ext-dest-id' | 'address-hi';
}

/** Fields that no x86 MSI message can carry. */
export class MsiEncodeError extends VmmError {}

export function encodeMsi(f: MsiFields, opts: EncodeOptions = {}): MsiMessage {
  const dest = f.destinationId;
  if (!Number.isInteger(dest) || dest < 0 || dest > 0xffffffff) throw new MsiEncodeError(`destination ID ${dest} is not a 32-bit APIC ID`);
  if (!Number.isInteger(f.vector) || f.vector < 0 || f.vector > 0xff) throw new MsiEncodeError(`vector ${f.vector} is not 0..255`);
  if (!Number.isInteger(f.deliveryMode) || f.deliveryMode < 0 || f.deliveryMode > 7) throw new MsiEncodeError(`delivery mode ${f.deliveryMode} is not 0..7`);
  let lo = MSI_ADDR_BASE | ((dest & 0xff) << MSI_ADDR_DEST_SHIFT);
  let hi = 0;
  if (dest > 0xff) {
    const useExt = (opts.highDestination ?? (dest <= 0x7fff ? 'ext-dest-id' : 'address-hi')) === 'ext-dest-id';
    if (useExt && dest > 0x7fff) throw new MsiEncodeError(`destination ID ${dest} needs more than 15 bits: use address-hi`);
    if (useExt) lo |= ((dest >>> 8) & 0x7f) << MSI_ADDR_EXT_DEST_SHIFT;
    else hi = (dest & 0xffffff00) >>> 0;
  }
  if (f.destinationMode === 'logical') lo |= MSI_ADDR_DEST_MODE_LOGICAL;
  if (f.redirectionHint) lo |= MSI_ADDR_REDIRECTION_HINT;
  let data = f.vector | (f.deliveryMode << MSI_DATA_DELIVERY_SHIFT);
  if (f.level === 'assert') data |= MSI_DATA_LEVEL_ASSERT;
  if (f.trigger === 'level') data |= MSI_DATA_TRIGGER_LEVEL;
  return { addressLo: lo >>> 0, addressHi: hi, data: data >>> 0 };
}

/** One line for logs and the UI: "vector 0x31 → APIC 2 (physical), Fixed, edge". */
export function describeMsi(msg: MsiMessage, opts: DecodeOptions = {}): string {
  const d = decodeMsi(msg, opts);
  if (!d.interruptWindow) return `memory write to 0x${(msg.addressHi >>> 0).toString(16)}_${(msg.addressLo >>> 0).toString(16).padStart(8, '0')} (not an interrupt)`;
  if (d.remappable) return `remappable-format message, handle in address bits (data 0x${(msg.data >>> 0).toString(16)})`;
  const rh = d.redirectionHint ? ', redirection hint' : '';
  const trig = d.trigger === 'level' ? `level ${d.level}` : 'edge';
  return `vector 0x${d.vector.toString(16).padStart(2, '0')} → APIC ${d.destinationId} (${d.destinationMode}${rh}), ${d.deliveryModeName}, ${trig}`;
}
