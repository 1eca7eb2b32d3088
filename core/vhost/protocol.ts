// The vhost-user wire protocol (QEMU docs/interop/vhost-user.rst): message header, request
// codes, flags, feature bits and the payload layouts this project uses, with encoders and
// validating decoders. Pure data, no I/O: the channel (channel.ts) frames bytes and fds;
// frontend.ts and backend.ts give the messages meaning. Every decoder treats its input as
// hostile and throws VhostProtocolError on any size or field it does not accept.
import { VmmError } from '../errors.js';

export class VhostProtocolError extends VmmError {}

/** Header: request u32, flags u32, size u32 (payload bytes), little-endian. */
export const HEADER_SIZE = 12;
/** Flags bits 0-1: protocol version, always 0x1. */
export const VHOST_USER_VERSION = 0x1;
export const VHOST_USER_VERSION_MASK = 0x3;
/** Flags bit 2: this message is a reply. */
export const VHOST_USER_FLAG_REPLY = 0x4;
/** Flags bit 3: the sender wants a u64 ack (VHOST_USER_PROTOCOL_F_REPLY_ACK). */
export const VHOST_USER_FLAG_NEED_REPLY = 0x8;
const KNOWN_FLAGS = VHOST_USER_VERSION_MASK | VHOST_USER_FLAG_REPLY | VHOST_USER_FLAG_NEED_REPLY;

/** Largest payload we accept. The largest message we speak is GET/SET_CONFIG (12 + 256). */
export const MAX_PAYLOAD = 4096;
/** SET_MEM_TABLE carries at most 8 regions (VHOST_MEMORY_BASELINE_NREGIONS). */
export const MAX_MEM_REGIONS = 8;
/** Most fds one message may carry (SET_MEM_TABLE: one per region). */
export const MAX_FDS_PER_MESSAGE = MAX_MEM_REGIONS;
/** VHOST_USER_MAX_CONFIG_SIZE: virtio device config space bytes that GET/SET_CONFIG move. */
export const MAX_CONFIG_SIZE = 256;

/** Front-end -> back-end request codes (vhost-user.rst, "Front-end message types"). */
export const Req = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SET_BACKEND_REQ_FD: 21,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  RESET_DEVICE: 34,
  GET_MAX_MEM_SLOTS: 36,
} as const;
export type ReqCode = (typeof Req)[keyof typeof Req];

const REQ_NAMES = new Map<number, string>(Object.entries(Req).map(([k, v]) => [v, k]));
export function reqName(code: number): string {
  return REQ_NAMES.get(code) ?? `request ${code}`;
}

/** Requests that always carry a reply, whatever REPLY_ACK says. */
export const REQUESTS_WITH_REPLY: ReadonlySet<number> = new Set([
  Req.GET_FEATURES,
  Req.GET_PROTOCOL_FEATURES,
  Req.GET_VRING_BASE,
  Req.GET_QUEUE_NUM,
  Req.GET_CONFIG,
  Req.GET_INFLIGHT_FD,
  Req.GET_MAX_MEM_SLOTS,
]);

/** Virtio feature bit 30: the back-end speaks GET/SET_PROTOCOL_FEATURES. */
export const VHOST_USER_F_PROTOCOL_FEATURES = 30;

/** Protocol feature bits (vhost-user.rst, "Protocol features"). */
export const ProtocolFeature = {
  MQ: 0,
  LOG_SHMFD: 1,
  REPLY_ACK: 3,
  BACKEND_REQ: 5,
  CONFIG: 9,
  INFLIGHT_SHMFD: 12,
  RESET_DEVICE: 13,
  CONFIGURE_MEM_SLOTS: 15,
} as const;

export const bit = (n: number): bigint => 1n << BigInt(n);
export const hasBit = (mask: bigint, n: number): boolean => (mask & bit(n)) !== 0n;

/** u64 payload of SET/GET_VRING_KICK/CALL/ERR: bits 0-7 vring index, bit 8 "no fd". */
export const VHOST_USER_VRING_IDX_MASK = 0xff;
export const VHOST_USER_VRING_NOFD_MASK = 0x100;

/** vhost_vring_addr.flags bit 0: log used-ring writes (VHOST_VRING_F_LOG). */
export const VHOST_VRING_F_LOG = 0x1;

/** SET_CONFIG flags: VHOST_SET_CONFIG_TYPE_FRONTEND (0) / _MIGRATION (1). */
export const VHOST_SET_CONFIG_TYPE_FRONTEND = 0;
export const VHOST_SET_CONFIG_TYPE_MIGRATION = 1;

export interface Header {
  request: number;
  flags: number;
  size: number;
}

export function encodeHeader(h: Header): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, h.request, true);
  dv.setUint32(4, h.flags, true);
  dv.setUint32(8, h.size, true);
  return b;
}

/** Decode and validate a header: version 1, known flag bits, bounded size. */
export function decodeHeader(b: Uint8Array): Header {
  if (b.length !== HEADER_SIZE) throw new VhostProtocolError(`header is ${b.length} bytes, want ${HEADER_SIZE}`);
  const dv = view(b);
  const h = { request: dv.getUint32(0, true), flags: dv.getUint32(4, true), size: dv.getUint32(8, true) };
  if ((h.flags & VHOST_USER_VERSION_MASK) !== VHOST_USER_VERSION) {
    throw new VhostProtocolError(`${reqName(h.request)}: unsupported protocol version ${h.flags & VHOST_USER_VERSION_MASK}`);
  }
  if ((h.flags & ~KNOWN_FLAGS) !== 0) throw new VhostProtocolError(`${reqName(h.request)}: unknown flag bits 0x${h.flags.toString(16)}`);
  if (h.size > MAX_PAYLOAD) throw new VhostProtocolError(`${reqName(h.request)}: payload of ${h.size} bytes exceeds ${MAX_PAYLOAD}`);
  return h;
}

/** Header plus payload in one buffer, ready for one sendmsg. */
export function encodeMessage(request: number, flags: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  out.set(encodeHeader({ request, flags: flags | VHOST_USER_VERSION, size: payload.length }), 0);
  out.set(payload, HEADER_SIZE);
  return out;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function want(b: Uint8Array, size: number, what: string): DataView {
  if (b.length !== size) throw new VhostProtocolError(`${what}: payload is ${b.length} bytes, want ${size}`);
  return view(b);
}

/** u64 bigint -> JS number, refusing values beyond 2^53. */
export function safeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VhostProtocolError(`${what} 0x${v.toString(16)} is out of range`);
  return Number(v);
}

// ---- u64 ----

export function encodeU64(v: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  view(b).setBigUint64(0, BigInt(v), true);
  return b;
}

export function decodeU64(b: Uint8Array, what = 'u64'): bigint {
  return want(b, 8, what).getBigUint64(0, true);
}

// ---- vring state: index u32, num u32 ----

export interface VringState {
  index: number;
  num: number;
}

export function encodeVringState(s: VringState): Uint8Array {
  const b = new Uint8Array(8);
  const dv = view(b);
  dv.setUint32(0, s.index, true);
  dv.setUint32(4, s.num, true);
  return b;
}

export function decodeVringState(b: Uint8Array, what = 'vring state'): VringState {
  const dv = want(b, 8, what);
  return { index: dv.getUint32(0, true), num: dv.getUint32(4, true) };
}

// ---- vring address: index u32, flags u32, desc/used/avail/log u64 (front-end addresses) ----

export interface VringAddr {
  index: number;
  flags: number;
  desc: bigint;
  used: bigint;
  avail: bigint;
  log: bigint;
}

export const VRING_ADDR_SIZE = 40;

export function encodeVringAddr(a: VringAddr): Uint8Array {
  const b = new Uint8Array(VRING_ADDR_SIZE);
  const dv = view(b);
  dv.setUint32(0, a.index, true);
  dv.setUint32(4, a.flags, true);
  dv.setBigUint64(8, a.desc, true);
  dv.setBigUint64(16, a.used, true);
  dv.setBigUint64(24, a.avail, true);
  dv.setBigUint64(32, a.log, true);
  return b;
}

export function decodeVringAddr(b: Uint8Array): VringAddr {
  const dv = want(b, VRING_ADDR_SIZE, 'SET_VRING_ADDR');
  const a = {
    index: dv.getUint32(0, true),
    flags: dv.getUint32(4, true),
    desc: dv.getBigUint64(8, true),
    used: dv.getBigUint64(16, true),
    avail: dv.getBigUint64(24, true),
    log: dv.getBigUint64(32, true),
  };
  if ((a.flags & ~VHOST_VRING_F_LOG) !== 0) throw new VhostProtocolError(`SET_VRING_ADDR: unknown flags 0x${a.flags.toString(16)}`);
  return a;
}

// ---- vring fd messages: u64 index | NOFD ----

export interface VringFd {
  index: number;
  noFd: boolean;
}

export function encodeVringFd(index: number, noFd: boolean): Uint8Array {
  return encodeU64((index & VHOST_USER_VRING_IDX_MASK) | (noFd ? VHOST_USER_VRING_NOFD_MASK : 0));
}

export function decodeVringFd(b: Uint8Array, what: string): VringFd {
  const v = decodeU64(b, what);
  if ((v & ~BigInt(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) !== 0n) {
    throw new VhostProtocolError(`${what}: reserved bits set in 0x${v.toString(16)}`);
  }
  const n = Number(v);
  return { index: n & VHOST_USER_VRING_IDX_MASK, noFd: (n & VHOST_USER_VRING_NOFD_MASK) !== 0 };
}

// ---- memory table: num_regions u32, padding u32, regions[num] ----

export interface MemRegionDesc {
  guestAddr: bigint;
  size: bigint;
  /** The region's address in the front-end's own address space (vring addresses use it). */
  userAddr: bigint;
  /** Offset of the region inside the fd that travels with the message. */
  mmapOffset: bigint;
}

export const MEM_REGION_SIZE = 32;
const U64_MAX = (1n << 64n) - 1n;

export function encodeMemTable(regions: MemRegionDesc[]): Uint8Array {
  if (regions.length === 0 || regions.length > MAX_MEM_REGIONS) throw new VhostProtocolError(`memory table needs 1..${MAX_MEM_REGIONS} regions, got ${regions.length}`);
  const b = new Uint8Array(8 + MEM_REGION_SIZE * regions.length);
  const dv = view(b);
  dv.setUint32(0, regions.length, true);
  regions.forEach((r, i) => {
    const o = 8 + i * MEM_REGION_SIZE;
    dv.setBigUint64(o, r.guestAddr, true);
    dv.setBigUint64(o + 8, r.size, true);
    dv.setBigUint64(o + 16, r.userAddr, true);
    dv.setBigUint64(o + 24, r.mmapOffset, true);
  });
  return b;
}

/** Decode SET_MEM_TABLE: 1..8 regions, non-empty, no address wrap, no guest overlap. */
export function decodeMemTable(b: Uint8Array): MemRegionDesc[] {
  if (b.length < 8) throw new VhostProtocolError(`SET_MEM_TABLE: payload of ${b.length} bytes is too short`);
  const dv = view(b);
  const n = dv.getUint32(0, true);
  if (n === 0 || n > MAX_MEM_REGIONS) throw new VhostProtocolError(`SET_MEM_TABLE: ${n} regions (allowed 1..${MAX_MEM_REGIONS})`);
  want(b, 8 + n * MEM_REGION_SIZE, 'SET_MEM_TABLE');
  const regions: MemRegionDesc[] = [];
  for (let i = 0; i < n; i++) {
    const o = 8 + i * MEM_REGION_SIZE;
    const r = {
      guestAddr: dv.getBigUint64(o, true),
      size: dv.getBigUint64(o + 8, true),
      userAddr: dv.getBigUint64(o + 16, true),
      mmapOffset: dv.getBigUint64(o + 24, true),
    };
    if (r.size === 0n) throw new VhostProtocolError(`SET_MEM_TABLE: region ${i} is empty`);
    if (r.guestAddr > U64_MAX - r.size + 1n || r.userAddr > U64_MAX - r.size + 1n || r.mmapOffset > U64_MAX - r.size + 1n) {
      throw new VhostProtocolError(`SET_MEM_TABLE: region ${i} wraps the address space`);
    }
    for (const [j, q] of regions.entries()) {
      if (r.guestAddr < q.guestAddr + q.size && q.guestAddr < r.guestAddr + r.size) {
        throw new VhostProtocolError(`SET_MEM_TABLE: regions ${j} and ${i} overlap`);
      }
    }
    regions.push(r);
  }
  return regions;
}

// ---- config space: offset u32, size u32, flags u32, payload[size] ----

export interface ConfigMsg {
  offset: number;
  size: number;
  flags: number;
  data: Uint8Array;
}

export function encodeConfig(c: { offset: number; flags?: number; data: Uint8Array }): Uint8Array {
  if (c.data.length > MAX_CONFIG_SIZE || c.offset + c.data.length > MAX_CONFIG_SIZE) throw new VhostProtocolError('config range exceeds 256 bytes');
  const b = new Uint8Array(12 + c.data.length);
  const dv = view(b);
  dv.setUint32(0, c.offset, true);
  dv.setUint32(4, c.data.length, true);
  dv.setUint32(8, c.flags ?? 0, true);
  b.set(c.data, 12);
  return b;
}

export function decodeConfig(b: Uint8Array, what: string): ConfigMsg {
  if (b.length < 12) throw new VhostProtocolError(`${what}: payload of ${b.length} bytes is too short`);
  const dv = view(b);
  const offset = dv.getUint32(0, true);
  const size = dv.getUint32(4, true);
  const flags = dv.getUint32(8, true);
  if (size > MAX_CONFIG_SIZE || offset > MAX_CONFIG_SIZE - size) throw new VhostProtocolError(`${what}: range ${offset}+${size} exceeds ${MAX_CONFIG_SIZE} bytes`);
  want(b, 12 + size, what);
  if (flags > VHOST_SET_CONFIG_TYPE_MIGRATION) throw new VhostProtocolError(`${what}: unknown flags ${flags}`);
  return { offset, size, flags, data: b.slice(12, 12 + size) };
}

// ---- log: mmap_size u64, mmap_offset u64 ----

export interface LogMsg {
  mmapSize: bigint;
  mmapOffset: bigint;
}

export function decodeLog(b: Uint8Array): LogMsg {
  const dv = want(b, 16, 'SET_LOG_BASE');
  return { mmapSize: dv.getBigUint64(0, true), mmapOffset: dv.getBigUint64(8, true) };
}

// ---- inflight: mmap_size u64, mmap_offset u64, num_queues u16, queue_size u16 (+ padding) ----

export interface InflightMsg {
  mmapSize: bigint;
  mmapOffset: bigint;
  numQueues: number;
  queueSize: number;
}

export function encodeInflight(m: InflightMsg): Uint8Array {
  const b = new Uint8Array(24);
  const dv = view(b);
  dv.setBigUint64(0, m.mmapSize, true);
  dv.setBigUint64(8, m.mmapOffset, true);
  dv.setUint16(16, m.numQueues, true);
  dv.setUint16(18, m.queueSize, true);
  return b;
}

export function decodeInflight(b: Uint8Array, what: string): InflightMsg {
  if (b.length !== 20 && b.length !== 24) throw new VhostProtocolError(`${what}: payload is ${b.length} bytes, want 24`);
  const dv = view(b);
  return { mmapSize: dv.getBigUint64(0, true), mmapOffset: dv.getBigUint64(8, true), numQueues: dv.getUint16(16, true), queueSize: dv.getUint16(18, true) };
}
