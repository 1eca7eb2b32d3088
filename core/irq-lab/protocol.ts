// The wire protocol between the VMM and the irq-lab device process. Framing, fd passing
// and the "close on anything malformed" rule come from the vhost-user channel
// (core/vhost/channel.ts: header = request u32, flags u32, size u32; at most 8 fds and
// 4 KiB of payload per message); the request codes and payloads below are irq-lab's own.
// Pure data, no I/O. Every decoder treats its input as hostile and throws
// IrqLabProtocolError for an unknown code, a wrong size, a wrong fd count or a field
// outside its range; the caller then closes the connection and the fds it was handed.
//
// Order on a fresh connection (VMM -> device): SETUP, MSIX_FDS* / MSI_FDS* / INTX_FDS /
// MEM_TABLE, then READY (device answers READY_ACK). After that any command, in guest order.
// Flow control: the device answers with CREDIT (commands finished, raises performed, both
// counted since the connection started, mod 2^32) so the VMM can bound what is in flight
// (core/irq-lab/flow.ts).
import { VmmError } from '../errors.js';
import { decodeMemTable, encodeMemTable, MAX_FDS_PER_MESSAGE, type MemRegionDesc } from '../vhost/protocol.js';
import { BURST_MAX, BURST_MIN, INTX_AUTO_MAX, RaiseKind } from './regs.js';

export class IrqLabProtocolError extends VmmError {}

export const PROTOCOL_VERSION = 1;
export const MAX_MSIX_VECTORS = 2048;
export const MAX_MSI_VECTORS = 32;
/** Eventfds per MSIX_FDS / MSI_FDS message (the channel's per-message fd limit). */
export const FDS_PER_MESSAGE = MAX_FDS_PER_MESSAGE;
/** Per-vector counts per VECTOR_COUNTS message (4 KiB payload limit). */
export const COUNTS_PER_MESSAGE = 1000;

/** VMM -> device requests. */
export const Op = {
  SETUP: 1,
  MSIX_FDS: 2,
  MSI_FDS: 3,
  INTX_FDS: 4,
  MEM_TABLE: 5,
  SEQ_PAGE: 6,
  FIRE: 7,
  BURST: 8,
  FIRE_RANGE: 9,
  INTX: 10,
  INTX_AUTO: 11,
  ACK_INTX: 12,
  ACK: 13,
  GET_STATS: 14,
  READY: 15,
} as const;

/** Device -> VMM messages. */
export const Reply = { READY_ACK: 0x81, STATS: 0x82, VECTOR_COUNTS: 0x83, CREDIT: 0x84 } as const;

export type Command =
  | { op: 'setup'; version: number; msixVectors: number; msiVectors: number; intx: boolean }
  | { op: 'msix-fds' | 'msi-fds'; first: number; fds: number[] }
  | { op: 'intx-fds'; trigger: number; resample: number }
  | { op: 'mem-table'; regions: MemRegionDesc[]; fds: number[] }
  | { op: 'seq-page'; gpa: number }
  | { op: 'fire'; kind: RaiseKind; vector: number }
  | { op: 'burst'; kind: RaiseKind; vector: number; count: number }
  | { op: 'fire-range'; kind: RaiseKind; first: number; last: number }
  | { op: 'intx'; level: boolean }
  | { op: 'intx-auto'; items: number }
  | { op: 'ack-intx' }
  | { op: 'ack'; vector: number }
  | { op: 'get-stats'; token: number }
  | { op: 'ready' };

export interface Encoded {
  request: number;
  payload: Uint8Array;
  fds: number[];
}

export interface DeviceStatsReply {
  token: number;
  vectors: number;
  fired: number;
  acked: number;
  /** ACKs paired with a raise (each contributes one histogram sample). */
  paired: number;
  /** ACKs for a vector with no unacknowledged raise. */
  unpaired: number;
  /** Raise timestamps dropped because a vector had too many unacknowledged raises. */
  dropped: number;
  /** eventfd writes that failed. */
  raiseErrors: number;
  intxSignals: number;
  resamples: number;
  buckets: number[];
}

/** CREDIT: what the device has finished since the connection started (each mod 2^32). */
export interface CreditReply {
  /** Commands handled to completion (a raise command once its last raise is done). */
  commands: number;
  /** Raises performed (eventfd written or attempted). */
  raises: number;
}

/** Raises a command asks for (0 for anything that is not a raise). */
export function raisesOf(c: Command): number {
  switch (c.op) {
    case 'fire': return 1;
    case 'burst': return c.count;
    case 'fire-range': return c.last - c.first + 1;
    default: return 0;
  }
}

export interface VectorCountsReply {
  token: number;
  first: number;
  counts: number[];
}

const u32s = (...v: number[]): Uint8Array => {
  const b = new Uint8Array(v.length * 4);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => dv.setUint32(i * 4, x >>> 0, true));
  return b;
};

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export function encodeCommand(c: Command): Encoded {
  const e = (request: number, payload: Uint8Array = new Uint8Array(0), fds: number[] = []): Encoded => ({ request, payload, fds });
  switch (c.op) {
    case 'setup': return e(Op.SETUP, u32s(c.version, c.msixVectors, c.msiVectors, c.intx ? 1 : 0));
    case 'msix-fds': return e(Op.MSIX_FDS, u32s(c.first, c.fds.length), c.fds);
    case 'msi-fds': return e(Op.MSI_FDS, u32s(c.first, c.fds.length), c.fds);
    case 'intx-fds': return e(Op.INTX_FDS, new Uint8Array(0), [c.trigger, c.resample]);
    case 'mem-table': return e(Op.MEM_TABLE, encodeMemTable(c.regions), c.fds);
    case 'seq-page': {
      const b = new Uint8Array(8);
      dv(b).setBigUint64(0, BigInt(c.gpa), true);
      return e(Op.SEQ_PAGE, b);
    }
    case 'fire': return e(Op.FIRE, u32s(c.kind, c.vector));
    case 'burst': return e(Op.BURST, u32s(c.kind, c.vector, c.count));
    case 'fire-range': return e(Op.FIRE_RANGE, u32s(c.kind, c.first, c.last));
    case 'intx': return e(Op.INTX, u32s(c.level ? 1 : 0));
    case 'intx-auto': return e(Op.INTX_AUTO, u32s(c.items));
    case 'ack-intx': return e(Op.ACK_INTX);
    case 'ack': return e(Op.ACK, u32s(c.vector));
    case 'get-stats': return e(Op.GET_STATS, u32s(c.token));
    case 'ready': return e(Op.READY);
  }
}

function words(name: string, p: Uint8Array, n: number): number[] {
  if (p.length !== n * 4) throw new IrqLabProtocolError(`${name}: payload is ${p.length} bytes, want ${n * 4}`);
  const d = dv(p);
  return Array.from({ length: n }, (_, i) => d.getUint32(i * 4, true));
}

function noFds(name: string, fds: number[]): void {
  if (fds.length !== 0) throw new IrqLabProtocolError(`${name}: ${fds.length} unexpected fds`);
}

function kindOf(name: string, k: number): RaiseKind {
  if (k !== RaiseKind.msix && k !== RaiseKind.msi && k !== RaiseKind.intx) throw new IrqLabProtocolError(`${name}: unknown raise kind ${k}`);
  return k;
}

/**
 * Decode one VMM -> device message. Structural checks only; vector ranges depend on the
 * SETUP the device got and are checked by the device. Never takes ownership of `fds`.
 */
export function decodeCommand(request: number, p: Uint8Array, fds: number[]): Command {
  switch (request) {
    case Op.SETUP: {
      noFds('SETUP', fds);
      const [version, msixVectors, msiVectors, intx] = words('SETUP', p, 4) as [number, number, number, number];
      if (version !== PROTOCOL_VERSION) throw new IrqLabProtocolError(`SETUP: protocol version ${version}, this device speaks ${PROTOCOL_VERSION}`);
      if (msixVectors > MAX_MSIX_VECTORS) throw new IrqLabProtocolError(`SETUP: ${msixVectors} MSI-X vectors (max ${MAX_MSIX_VECTORS})`);
      if (msiVectors > MAX_MSI_VECTORS) throw new IrqLabProtocolError(`SETUP: ${msiVectors} MSI vectors (max ${MAX_MSI_VECTORS})`);
      if (intx > 1) throw new IrqLabProtocolError(`SETUP: INTx flag ${intx}`);
      return { op: 'setup', version, msixVectors, msiVectors, intx: intx === 1 };
    }
    case Op.MSIX_FDS:
    case Op.MSI_FDS: {
      const name = request === Op.MSIX_FDS ? 'MSIX_FDS' : 'MSI_FDS';
      const [first, count] = words(name, p, 2) as [number, number];
      if (count === 0 || count > FDS_PER_MESSAGE || count !== fds.length) throw new IrqLabProtocolError(`${name}: count ${count} with ${fds.length} fds`);
      return { op: request === Op.MSIX_FDS ? 'msix-fds' : 'msi-fds', first, fds: [...fds] };
    }
    case Op.INTX_FDS:
      words('INTX_FDS', p, 0);
      if (fds.length !== 2) throw new IrqLabProtocolError(`INTX_FDS: ${fds.length} fds, want 2 (trigger, resample)`);
      return { op: 'intx-fds', trigger: fds[0]!, resample: fds[1]! };
    case Op.MEM_TABLE: {
      let regions: MemRegionDesc[];
      try {
        regions = decodeMemTable(p);
      } catch (e) {
        throw new IrqLabProtocolError(`MEM_TABLE: ${(e as Error).message}`);
      }
      if (regions.length !== fds.length) throw new IrqLabProtocolError(`MEM_TABLE: ${regions.length} regions but ${fds.length} fds`);
      return { op: 'mem-table', regions, fds: [...fds] };
    }
    case Op.SEQ_PAGE: {
      noFds('SEQ_PAGE', fds);
      if (p.length !== 8) throw new IrqLabProtocolError(`SEQ_PAGE: payload is ${p.length} bytes, want 8`);
      const gpa = dv(p).getBigUint64(0, true);
      if (gpa > BigInt(Number.MAX_SAFE_INTEGER) || gpa % 4096n !== 0n) throw new IrqLabProtocolError(`SEQ_PAGE: address 0x${gpa.toString(16)} is not a 4 KiB-aligned address`);
      return { op: 'seq-page', gpa: Number(gpa) };
    }
    case Op.FIRE: {
      noFds('FIRE', fds);
      const [k, vector] = words('FIRE', p, 2) as [number, number];
      return { op: 'fire', kind: kindOf('FIRE', k), vector };
    }
    case Op.BURST: {
      noFds('BURST', fds);
      const [k, vector, count] = words('BURST', p, 3) as [number, number, number];
      if (count < BURST_MIN || count > BURST_MAX) throw new IrqLabProtocolError(`BURST: count ${count} is not ${BURST_MIN}..${BURST_MAX}`);
      return { op: 'burst', kind: kindOf('BURST', k), vector, count };
    }
    case Op.FIRE_RANGE: {
      noFds('FIRE_RANGE', fds);
      const [k, first, last] = words('FIRE_RANGE', p, 3) as [number, number, number];
      if (first > last) throw new IrqLabProtocolError(`FIRE_RANGE: first ${first} > last ${last}`);
      return { op: 'fire-range', kind: kindOf('FIRE_RANGE', k), first, last };
    }
    case Op.INTX: {
      noFds('INTX', fds);
      const [level] = words('INTX', p, 1) as [number];
      if (level > 1) throw new IrqLabProtocolError(`INTX: level ${level}`);
      return { op: 'intx', level: level === 1 };
    }
    case Op.INTX_AUTO: {
      noFds('INTX_AUTO', fds);
      const [items] = words('INTX_AUTO', p, 1) as [number];
      if (items > INTX_AUTO_MAX) throw new IrqLabProtocolError(`INTX_AUTO: ${items} items (max ${INTX_AUTO_MAX})`);
      return { op: 'intx-auto', items };
    }
    case Op.ACK_INTX:
      noFds('ACK_INTX', fds);
      words('ACK_INTX', p, 0);
      return { op: 'ack-intx' };
    case Op.ACK: {
      noFds('ACK', fds);
      const [vector] = words('ACK', p, 1) as [number];
      return { op: 'ack', vector };
    }
    case Op.GET_STATS: {
      noFds('GET_STATS', fds);
      const [token] = words('GET_STATS', p, 1) as [number];
      return { op: 'get-stats', token };
    }
    case Op.READY:
      noFds('READY', fds);
      words('READY', p, 0);
      return { op: 'ready' };
    default:
      throw new IrqLabProtocolError(`unknown request ${request}`);
  }
}

// ---- device -> VMM ------------------------------------------------------------------------

const STATS_FIELDS = 10;

export function encodeStats(s: DeviceStatsReply): Uint8Array {
  return u32s(
    s.token, s.vectors, s.fired >>> 0, Math.floor(s.fired / 2 ** 32), s.acked >>> 0, Math.floor(s.acked / 2 ** 32),
    s.paired, s.unpaired, s.dropped, s.raiseErrors, s.intxSignals, s.resamples, s.buckets.length, ...s.buckets,
  );
}

export function decodeStats(p: Uint8Array, expectBuckets: number): DeviceStatsReply {
  const n = STATS_FIELDS + 3 + expectBuckets;
  const w = words('STATS', p, n);
  if (w[12] !== expectBuckets) throw new IrqLabProtocolError(`STATS: ${w[12]} histogram buckets, want ${expectBuckets}`);
  return {
    token: w[0]!, vectors: w[1]!, fired: w[3]! * 2 ** 32 + w[2]!, acked: w[5]! * 2 ** 32 + w[4]!, paired: w[6]!, unpaired: w[7]!,
    dropped: w[8]!, raiseErrors: w[9]!, intxSignals: w[10]!, resamples: w[11]!, buckets: w.slice(13),
  };
}

export function encodeVectorCounts(r: VectorCountsReply): Uint8Array {
  if (r.counts.length > COUNTS_PER_MESSAGE) throw new IrqLabProtocolError(`VECTOR_COUNTS: ${r.counts.length} counts (max ${COUNTS_PER_MESSAGE})`);
  return u32s(r.token, r.first, r.counts.length, ...r.counts);
}

export function decodeVectorCounts(p: Uint8Array, vectors: number): VectorCountsReply {
  if (p.length < 12) throw new IrqLabProtocolError(`VECTOR_COUNTS: payload of ${p.length} bytes is too short`);
  const count = dv(p).getUint32(8, true);
  if (count > COUNTS_PER_MESSAGE) throw new IrqLabProtocolError(`VECTOR_COUNTS: ${count} counts (max ${COUNTS_PER_MESSAGE})`);
  const w = words('VECTOR_COUNTS', p, 3 + count);
  const first = w[1]!;
  if (first + count > vectors) throw new IrqLabProtocolError(`VECTOR_COUNTS: vectors ${first}..${first + count - 1} beyond ${vectors}`);
  return { token: w[0]!, first, counts: w.slice(3) };
}

export function encodeCredit(r: CreditReply): Uint8Array {
  return u32s(r.commands, r.raises);
}

export function decodeCredit(p: Uint8Array): CreditReply {
  const [commands, raises] = words('CREDIT', p, 2) as [number, number];
  return { commands, raises };
}

export function decodeReadyAck(p: Uint8Array): number {
  const [version] = words('READY_ACK', p, 1) as [number];
  if (version !== PROTOCOL_VERSION) throw new IrqLabProtocolError(`READY_ACK: device speaks protocol ${version}, we speak ${PROTOCOL_VERSION}`);
  return version;
}
