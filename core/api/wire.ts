// Codec for the browser bridge's frames. Plain JSON loses what the contract carries besides
// JSON values: Uint8Array (console bytes, uploaded images, the console backlog), `undefined`
// inside argument lists (an omitted optional argument) and bigint (64-bit registers in
// interrupt-state snapshots). They travel as tagged objects: {"$bytes": base64},
// {"$undefined": 1}, {"$bigint": "123"}. A frame carrying more than BINARY_THRESHOLD bytes
// of binary data (an uploaded image) becomes a binary WebSocket message instead — base64 of
// a large image would exceed JavaScript's string limit — laid out as
// [u32 LE header length][header JSON, UTF-8][blobs], the header holding {"$blob": [offset,
// length]} in place of each array. No Node imports: the browser bundles this too.
const BYTES = '$bytes';
const BLOB = '$blob';
const UNDEF = '$undefined';
const BIGINT = '$bigint';

export const BINARY_THRESHOLD = 256 * 1024;

/** Encode a frame: a string, or binary when it carries more than BINARY_THRESHOLD bytes. */
export function encodeFrame(value: unknown): string | Uint8Array {
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const text = JSON.stringify(
    value,
    tagger((b) => {
      blobs.push(b);
      const ref = { [BLOB]: [offset, b.length] };
      offset += b.length;
      return ref;
    }),
  );
  if (blobs.length === 0) return text; // no bytes: the text form is exactly this
  if (offset <= BINARY_THRESHOLD) return encodeText(value);
  const header = new TextEncoder().encode(text);
  const out = new Uint8Array(4 + header.length + offset);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let at = 4 + header.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Always a text frame (base64 for bytes). */
export function encodeText(value: unknown): string {
  return JSON.stringify(value, tagger((b) => ({ [BYTES]: toBase64(b) })));
}

function tagger(bytes: (b: Uint8Array) => unknown) {
  return function (this: unknown, _key: string, v: unknown): unknown {
    // JSON.stringify calls toJSON first; Uint8Array has none, so `v` is the array itself.
    if (v instanceof Uint8Array) return bytes(v);
    if (typeof v === 'bigint') return { [BIGINT]: v.toString() };
    if (v === undefined && Array.isArray(this)) return { [UNDEF]: 1 };
    return v;
  };
}

/** Parse a frame; throws SyntaxError on malformed JSON, a malformed tag or a bad layout. */
export function decodeFrame(data: string | Uint8Array): unknown {
  if (typeof data === 'string') return parse(data, undefined);
  if (data.length < 4) throw new SyntaxError('binary frame too short');
  const headerLength = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
  if (headerLength > data.length - 4) throw new SyntaxError('binary frame header runs past the frame');
  const header = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(4, 4 + headerLength));
  return parse(header, data.subarray(4 + headerLength));
}

function parse(text: string, blobs: Uint8Array | undefined): unknown {
  // Every tag is an object key starting with "$, so a frame without that sequence has no
  // tags: plain JSON.parse is ~3x faster than the reviver on the 100 KB stats deltas. (A "$
  // inside a string value is escaped as \"$ and only sends the frame down the slow path.)
  if (!text.includes('"$')) return JSON.parse(text);
  return JSON.parse(text, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    if (keys.length !== 1) return v;
    const tag = (v as Record<string, unknown>)[keys[0]!];
    switch (keys[0]) {
      case BYTES:
        if (typeof tag !== 'string') throw new SyntaxError('$bytes must be a base64 string');
        return fromBase64(tag);
      case BLOB: {
        const [offset, length] = Array.isArray(tag) ? tag : [];
        const ok = blobs && Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= blobs.length;
        if (!ok) throw new SyntaxError('$blob does not fit the frame');
        return blobs.slice(offset, offset + length);
      }
      case UNDEF:
        return undefined;
      case BIGINT:
        if (typeof tag !== 'string' || !/^-?\d{1,40}$/.test(tag)) throw new SyntaxError('$bigint must be a decimal string');
        return BigInt(tag);
      default:
        return v;
    }
  });
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function toBase64(bytes: Uint8Array): string {
  // Chunks keep String.fromCharCode's argument list bounded for large uploads.
  const parts: string[] = [];
  let tail = '';
  const full = bytes.length - (bytes.length % 3);
  const CHUNK = 3 * 8192;
  for (let at = 0; at < full; at += CHUNK) {
    const end = Math.min(full, at + CHUNK);
    const codes: number[] = [];
    for (let i = at; i < end; i += 3) {
      const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      codes.push(B64.charCodeAt(n >> 18), B64.charCodeAt((n >> 12) & 63), B64.charCodeAt((n >> 6) & 63), B64.charCodeAt(n & 63));
    }
    parts.push(String.fromCharCode(...codes));
  }
  const rest = bytes.length - full;
  if (rest === 1) {
    const n = bytes[full]! << 16;
    tail = `${B64[n >> 18]}${B64[(n >> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = (bytes[full]! << 16) | (bytes[full + 1]! << 8);
    tail = `${B64[n >> 18]}${B64[(n >> 12) & 63]}${B64[(n >> 6) & 63]}=`;
  }
  return parts.join('') + tail;
}

export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new SyntaxError('base64 length must be a multiple of 4');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = c === 61 && i + j >= text.length - pad;
      const d = isPad ? 0 : c < 128 ? B64_INDEX[c]! : -1;
      if (d < 0) throw new SyntaxError('invalid base64');
      n = (n << 6) | d;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
