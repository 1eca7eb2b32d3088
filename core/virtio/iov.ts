// Scatter-gather helpers over the buffer lists of a descriptor chain: copy bytes out of a
// list at an offset, take sub-views of a byte range (for zero-copy file I/O straight into
// guest memory), and write bytes into a list. Pure functions; lengths are clamped, never
// trusted.

export function iovLength(bufs: readonly Uint8Array[]): number {
  let n = 0;
  for (const b of bufs) n += b.length;
  return n;
}

/** Live sub-views covering [offset, offset+len) of the concatenation of `bufs` (clamped). */
export function iovSlice(bufs: readonly Uint8Array[], offset: number, len = Infinity): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = offset;
  let left = len;
  for (const b of bufs) {
    if (left <= 0) break;
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    const take = Math.min(b.length - skip, left);
    out.push(b.subarray(skip, skip + take));
    left -= take;
    skip = 0;
  }
  return out;
}

/** Copy of [offset, offset+len) (shorter when the list ends first). */
export function iovRead(bufs: readonly Uint8Array[], offset: number, len: number): Uint8Array {
  const parts = iovSlice(bufs, offset, len);
  const out = new Uint8Array(iovLength(parts));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Write `data` at `offset`; returns the bytes that fit. */
export function iovWrite(bufs: readonly Uint8Array[], offset: number, data: Uint8Array): number {
  let o = 0;
  for (const p of iovSlice(bufs, offset, data.length)) {
    p.set(data.subarray(o, o + p.length));
    o += p.length;
  }
  return o;
}
