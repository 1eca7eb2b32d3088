// A small AML encoder: just the terms the DSDT needs (ACPI 6.5 §20.2, "AML Grammar
// Definition"; chapter 20 is the AML specification throughout ACPI 6.x, chapter 19 the ASL
// reference whose EISAID macro is reproduced here). Each function returns the encoded bytes
// of one term, so a namespace is built by nesting calls:
//   scope('\\_SB', device('PCI0', name('_HID', eisaId('PNP0A08'))))
// Names are ASL-style paths ("\\_SB.PCI0", "_HID", "^FOO"); segments shorter than four
// characters are padded with '_' as iasl does. Integers pick the shortest encoding.
import { VmmError } from '../errors.js';

/** An AML term cannot be encoded (bad name, value out of range, too many elements). */
export class AmlEncodeError extends VmmError {}

/** Opcodes and prefixes (ACPI 6.5 §20.2.3 data objects, §20.2.5 term objects). */
export const AML = {
  ZeroOp: 0x00, // §20.2.3 ConstObj
  OneOp: 0x01,
  OnesOp: 0xff, // all ones: 0xFFFFFFFFFFFFFFFF in a revision-2 table
  NameOp: 0x08, // §20.2.5.1 DefName := NameOp NameString DataRefObject
  BytePrefix: 0x0a, // §20.2.3 ComputationalData
  WordPrefix: 0x0b,
  DWordPrefix: 0x0c,
  StringPrefix: 0x0d,
  QWordPrefix: 0x0e,
  ScopeOp: 0x10, // §20.2.5.1 DefScope := ScopeOp PkgLength NameString TermList
  BufferOp: 0x11, // §20.2.5.4 DefBuffer := BufferOp PkgLength BufferSize ByteList
  PackageOp: 0x12, // §20.2.5.4 DefPackage := PackageOp PkgLength NumElements PackageElementList
  ExtOpPrefix: 0x5b,
  DeviceOp: 0x82, // §20.2.5.2 DefDevice := ExtOpPrefix 0x82 PkgLength NameString TermList
} as const;

/** Name string prefixes (ACPI 6.5 §20.2.2 Name Objects Encoding). */
export const NAME = {
  RootChar: 0x5c, // '\'
  ParentPrefixChar: 0x5e, // '^'
  DualNamePrefix: 0x2e,
  MultiNamePrefix: 0x2f,
  NullName: 0x00,
  SegLength: 4,
} as const;

/**
 * PkgLength (ACPI 6.5 §20.2.4): the byte count of the package including the PkgLength
 * itself. One byte holds up to 63 (bits 7:6 = 0); otherwise bits 7:6 of the lead byte give
 * how many bytes follow (1..3), bits 3:0 hold the low nibble and each following byte the
 * next 8 bits, so 2 bytes reach 2^12 - 1, 3 bytes 2^20 - 1 and 4 bytes 2^28 - 1.
 */
export const PKG_LENGTH_ONE_BYTE_MAX = 0x3f;
export const PKG_LENGTH_MAX = 2 ** 28 - 1;
const PKG_LENGTH_LIMITS = [PKG_LENGTH_ONE_BYTE_MAX, 2 ** 12 - 1, 2 ** 20 - 1, PKG_LENGTH_MAX] as const;
/** NumElements of DefPackage is a ByteData; larger packages need VarPackageOp (not used here). */
export const PACKAGE_MAX_ELEMENTS = 255;
const UINT64_MAX = 2n ** 64n - 1n;

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Encode a PkgLength whose value (covering itself) is `total`. */
export function pkgLength(total: number): Uint8Array {
  if (!Number.isInteger(total) || total < 1 || total > PKG_LENGTH_MAX) throw new AmlEncodeError(`PkgLength ${total} is outside 1..2^28-1`);
  if (total <= PKG_LENGTH_ONE_BYTE_MAX) return Uint8Array.of(total);
  const n = PKG_LENGTH_LIMITS.findIndex((max) => total <= max) + 1;
  const out = new Uint8Array(n);
  out[0] = ((n - 1) << 6) | (total & 0x0f);
  for (let i = 1; i < n; i++) out[i] = Math.floor(total / 2 ** (4 + 8 * (i - 1))) & 0xff;
  return out;
}

/** `body` preceded by the PkgLength that covers it (the PkgLength's own size included). */
export function withPkgLength(body: Uint8Array): Uint8Array {
  for (let n = 1; n <= PKG_LENGTH_LIMITS.length; n++) {
    if (body.length + n <= PKG_LENGTH_LIMITS[n - 1]!) return concat(pkgLength(body.length + n), body);
  }
  throw new AmlEncodeError(`package body of ${body.length} bytes exceeds the PkgLength limit`);
}

/** One NameSeg: a lead character A-Z or '_', then A-Z, 0-9 or '_', padded to 4 with '_'. */
export function nameSeg(seg: string): Uint8Array {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new AmlEncodeError(`"${seg}" is not an ACPI name segment`);
  return Uint8Array.from(seg.padEnd(NAME.SegLength, '_'), (c) => c.charCodeAt(0));
}

/** NameString for an ASL path: optional '\' or '^'s, then dot-separated segments. */
export function namePath(path: string): Uint8Array {
  const m = /^(\\|\^*)(.*)$/.exec(path)!;
  const prefix = Uint8Array.from(m[1]!, (c) => (c === '\\' ? NAME.RootChar : NAME.ParentPrefixChar));
  const segs = m[2] === '' ? [] : m[2]!.split('.');
  if (segs.length > 255) throw new AmlEncodeError(`name path "${path}" has more than 255 segments`);
  const body = concat(...segs.map(nameSeg));
  if (segs.length === 0) return concat(prefix, Uint8Array.of(NAME.NullName));
  if (segs.length === 1) return concat(prefix, body);
  if (segs.length === 2) return concat(prefix, Uint8Array.of(NAME.DualNamePrefix), body);
  return concat(prefix, Uint8Array.of(NAME.MultiNamePrefix, segs.length), body);
}

/** Integer in its shortest form: Zero/One/Ones, then Byte/Word/DWord/QWord constants. */
export function integer(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new AmlEncodeError(`AML integer ${value} is not a safe integer; pass a bigint`);
  const v = BigInt(value);
  if (v < 0n || v > UINT64_MAX) throw new AmlEncodeError(`AML integer ${value} is outside 0..2^64-1`);
  if (v === 0n) return Uint8Array.of(AML.ZeroOp);
  if (v === 1n) return Uint8Array.of(AML.OneOp);
  if (v === UINT64_MAX) return Uint8Array.of(AML.OnesOp);
  const [prefix, bytes] =
    v <= 0xffn ? [AML.BytePrefix, 1] : v <= 0xffffn ? [AML.WordPrefix, 2] : v <= 0xffffffffn ? [AML.DWordPrefix, 4] : [AML.QWordPrefix, 8];
  const out = new Uint8Array(1 + bytes);
  out[0] = prefix;
  for (let i = 0; i < bytes; i++) out[1 + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** DWordConst regardless of value (EISA IDs are always encoded this way). */
export function dword(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new AmlEncodeError(`DWord ${value} is outside 0..2^32-1`);
  const out = Uint8Array.of(AML.DWordPrefix, 0, 0, 0, 0);
  new DataView(out.buffer).setUint32(1, value, true);
  return out;
}

/** String: StringPrefix, ASCII 0x01-0x7F, NUL (§20.2.3). */
export function string(s: string): Uint8Array {
  if (!/^[\x01-\x7f]*$/.test(s)) throw new AmlEncodeError(`AML strings are ASCII without NUL: ${JSON.stringify(s)}`);
  return concat(Uint8Array.of(AML.StringPrefix), Uint8Array.from(s, (c) => c.charCodeAt(0)), Uint8Array.of(0));
}

/** Buffer(n) { bytes }: BufferSize is an Integer term. */
export function buffer(bytes: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(AML.BufferOp), withPkgLength(concat(integer(bytes.length), bytes)));
}

/** Package() { elements }: each element an already-encoded data object. */
export function pkg(...elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > PACKAGE_MAX_ELEMENTS) throw new AmlEncodeError(`Package of ${elements.length} elements needs VarPackageOp`);
  return concat(Uint8Array.of(AML.PackageOp), withPkgLength(concat(Uint8Array.of(elements.length), ...elements)));
}

/** Name(path, value). */
export function name(path: string, value: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(AML.NameOp), namePath(path), value);
}

/** Scope(path) { terms }. */
export function scope(path: string, ...terms: readonly Uint8Array[]): Uint8Array {
  return concat(Uint8Array.of(AML.ScopeOp), withPkgLength(concat(namePath(path), ...terms)));
}

/** Device(path) { terms }. */
export function device(path: string, ...terms: readonly Uint8Array[]): Uint8Array {
  return concat(Uint8Array.of(AML.ExtOpPrefix, AML.DeviceOp), withPkgLength(concat(namePath(path), ...terms)));
}

/**
 * EISAID("PNP0A08") as iasl compiles it (ACPI 6.5 §19.6, EISAID macro): three letters A-Z of 5 bits each
 * (letter - 0x40) in bits 14:0 of a big-endian 16-bit manufacturer code, then four hex
 * digits as two big-endian bytes; the four bytes read as a little-endian DWordConst.
 */
export function eisaIdValue(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new AmlEncodeError(`"${id}" is not an EISA ID (three letters A-Z, four hex digits)`);
  const letter = (i: number): number => id.charCodeAt(i) - 0x40;
  const vendor = (letter(0) << 10) | (letter(1) << 5) | letter(2);
  const product = parseInt(id.slice(3), 16);
  const bytes = Uint8Array.of(vendor >> 8, vendor & 0xff, product >> 8, product & 0xff);
  return new DataView(bytes.buffer).getUint32(0, true);
}

export function eisaId(id: string): Uint8Array {
  return dword(eisaIdValue(id));
}
