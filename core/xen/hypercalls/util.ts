// Helpers shared by the hypercall handlers: copying guest structs in and out through
// GuestArgs (any failure is the -errno the caller returns as is).
import type { GuestArgs } from '../guest-access.js';

/** Read `len` bytes at guest pointer `ptr` as a DataView, or -errno. */
export function readStruct(guest: GuestArgs, ptr: bigint, len: number): DataView | number {
  const b = guest.read(ptr, len);
  return typeof b === 'number' ? b : new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Write a struct built by `fill` into a `len`-byte buffer at `ptr`: 0 or -errno. */
export function writeStruct(guest: GuestArgs, ptr: bigint, len: number, fill: (dv: DataView) => void): number {
  const b = new Uint8Array(len);
  fill(new DataView(b.buffer));
  return guest.write(ptr, b);
}

/** An unsigned argument as a Number (commands, ids, counts: clamped into the safe range). */
export const argNum = (a: bigint | undefined): number => (a === undefined ? 0 : a > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(a));

/** DOMID_SELF (public/xen.h). */
export const DOMID_SELF = 0x7ff0;
