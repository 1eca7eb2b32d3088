// ACPI framing shared by every table: the 36-byte System Description Table header with its
// checksum, and the RSDP that points at the RSDT/XSDT (ACPI 6.5, sections 5.2.5 and 5.2.6).
// A table is described as {signature, revision, body}; encodeSdt prepends the header.
import { checksumByte, LeWriter, TableLayoutError } from './encode.js';

export const OEM_ID = 'IRQBCH';
export const OEM_TABLE_ID = 'IRQBENCH';
export const OEM_REVISION = 1;
export const CREATOR_ID = 'IRQB';
export const CREATOR_REVISION = 1;

/** System Description Table header (ACPI 6.5 table 5.4). */
export const SDT = {
  signature: 0, // 4 bytes
  length: 4, // u32, whole table including the header
  revision: 8, // u8
  checksum: 9, // u8, whole table sums to 0
  oemId: 10, // 6 bytes
  oemTableId: 16, // 8 bytes
  oemRevision: 24, // u32
  creatorId: 28, // 4 bytes
  creatorRevision: 32, // u32
  size: 36,
} as const;

/** RSDP, ACPI 2.0+ form (ACPI 6.5 table 5.3). */
export const RSDP = {
  signature: 0, // "RSD PTR "
  checksum: 8, // first 20 bytes (ACPI 1.0 part) sum to 0
  oemId: 9,
  revision: 15, // 2 for ACPI 2.0+
  rsdtAddress: 16, // u32
  length: 20, // u32, 36
  xsdtAddress: 24, // u64
  extendedChecksum: 32, // all 36 bytes sum to 0
  size: 36,
  v1Size: 20,
} as const;
export const RSDP_SIGNATURE = 'RSD PTR ';
export const RSDP_REVISION = 2;

/** A table to place: the header is generated, `body` is everything after it. */
export interface AcpiTable {
  /** Four ASCII characters, e.g. "MCFG". */
  signature: string;
  revision: number;
  body: Uint8Array;
  oemTableId?: string;
}

export function encodeSdt(t: AcpiTable): Uint8Array {
  if (!/^[A-Z0-9_]{4}$/.test(t.signature)) {
    throw new TableLayoutError(`ACPI table signature "${t.signature}" must be four characters A-Z, 0-9 or _`);
  }
  const len = SDT.size + t.body.length;
  const w = new LeWriter(len)
    .ascii(SDT.signature, t.signature, 4)
    .u32(SDT.length, len)
    .u8(SDT.revision, t.revision)
    .ascii(SDT.oemId, OEM_ID, 6)
    .ascii(SDT.oemTableId, t.oemTableId ?? OEM_TABLE_ID, 8)
    .u32(SDT.oemRevision, OEM_REVISION)
    .ascii(SDT.creatorId, CREATOR_ID, 4)
    .u32(SDT.creatorRevision, CREATOR_REVISION)
    .set(SDT.size, t.body);
  w.u8(SDT.checksum, checksumByte(w.bytes));
  return w.bytes;
}

export function encodeRsdp(rsdtAddr: number, xsdtAddr: number): Uint8Array {
  const w = new LeWriter(RSDP.size)
    .ascii(RSDP.signature, RSDP_SIGNATURE, 8)
    .ascii(RSDP.oemId, OEM_ID, 6)
    .u8(RSDP.revision, RSDP_REVISION)
    .u32(RSDP.rsdtAddress, rsdtAddr)
    .u32(RSDP.length, RSDP.size)
    .u64(RSDP.xsdtAddress, xsdtAddr);
  w.u8(RSDP.checksum, checksumByte(w.bytes, 0, RSDP.v1Size));
  w.u8(RSDP.extendedChecksum, checksumByte(w.bytes));
  return w.bytes;
}

/** XSDT (64-bit entries) or RSDT (32-bit entries) body listing `addrs`. */
export function rootTable(kind: 'XSDT' | 'RSDT', addrs: number[]): AcpiTable {
  const width = kind === 'XSDT' ? 8 : 4;
  const w = new LeWriter(addrs.length * width);
  addrs.forEach((a, i) => (width === 8 ? w.u64(i * 8, a) : w.u32(i * 4, a)));
  return { signature: kind, revision: 1, body: w.bytes };
}
