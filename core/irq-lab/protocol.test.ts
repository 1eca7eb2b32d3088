import { describe, expect, it } from 'vitest';
import {
  IrqLabProtocolError, Op, PROTOCOL_VERSION, decodeCommand, decodeCredit, decodeStats, decodeVectorCounts, encodeCommand, encodeCredit,
  encodeStats, encodeVectorCounts, raisesOf, type Command,
} from './protocol.js';
import { HISTOGRAM_BUCKETS } from './latency.js';
import { RaiseKind } from './regs.js';

const roundTrip = (c: Command): Command => {
  const e = encodeCommand(c);
  return decodeCommand(e.request, e.payload, e.fds);
};
const u32 = (...v: number[]) => new Uint8Array(new Uint32Array(v).buffer);

describe('irq-lab process protocol', () => {
  it('round-trips every command', () => {
    const cmds: Command[] = [
      { op: 'setup', version: PROTOCOL_VERSION, msixVectors: 2048, msiVectors: 32, intx: true },
      { op: 'msix-fds', first: 8, fds: [10, 11, 12] },
      { op: 'msi-fds', first: 0, fds: [13] },
      { op: 'intx-fds', trigger: 20, resample: 21 },
      { op: 'mem-table', regions: [{ guestAddr: 0n, size: 0x100000n, userAddr: 0x7f0000000000n, mmapOffset: 0n }], fds: [30] },
      { op: 'seq-page', gpa: 0x123000 },
      { op: 'fire', kind: RaiseKind.msix, vector: 2047 },
      { op: 'burst', kind: RaiseKind.msi, vector: 3, count: 1_000_000 },
      { op: 'fire-range', kind: RaiseKind.intx, first: 1, last: 9 },
      { op: 'intx', level: true },
      { op: 'intx-auto', items: 5 },
      { op: 'ack-intx' },
      { op: 'ack', vector: 7 },
      { op: 'get-stats', token: 42 },
      { op: 'ready' },
    ];
    for (const c of cmds) expect(roundTrip(c)).toEqual(c);
  });

  it('refuses hostile messages with a clear error', () => {
    const bad: [number, Uint8Array, number[], RegExp][] = [
      [999, new Uint8Array(0), [], /unknown request 999/],
      [Op.FIRE, u32(0), [], /payload is 4 bytes, want 8/],
      [Op.FIRE, u32(7, 0), [], /unknown raise kind 7/],
      [Op.FIRE, u32(0, 0), [5], /unexpected fds/],
      [Op.BURST, u32(0, 0, 0), [], /count 0/],
      [Op.BURST, u32(0, 0, 1_000_001), [], /count 1000001/],
      [Op.FIRE_RANGE, u32(0, 5, 4), [], /first 5 > last 4/],
      [Op.SETUP, u32(99, 1, 1, 0), [], /protocol version 99/],
      [Op.SETUP, u32(PROTOCOL_VERSION, 4096, 1, 0), [], /4096 MSI-X vectors/],
      [Op.SETUP, u32(PROTOCOL_VERSION, 1, 64, 0), [], /64 MSI vectors/],
      [Op.MSIX_FDS, u32(0, 3), [1, 2], /count 3 with 2 fds/],
      [Op.MSIX_FDS, u32(0, 9), [1, 2, 3, 4, 5, 6, 7, 8, 9], /count 9/],
      [Op.INTX_FDS, new Uint8Array(0), [1], /want 2/],
      [Op.MEM_TABLE, u32(0, 0), [], /MEM_TABLE/],
      [Op.SEQ_PAGE, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), [], /4 KiB-aligned/],
      [Op.SEQ_PAGE, new Uint8Array(8).fill(0xff), [], /4 KiB-aligned/],
      [Op.INTX, u32(2), [], /level 2/],
      [Op.INTX_AUTO, u32(2_000_000), [], /max/],
      [Op.ACK_INTX, u32(1), [], /payload/],
    ];
    for (const [req, p, fds, re] of bad) expect(() => decodeCommand(req, p, fds), re.source).toThrow(re);
    expect(() => decodeCommand(Op.FIRE, u32(0), [])).toThrow(IrqLabProtocolError);
  });

  it('encodes stats and per-vector counts, and refuses inconsistent ones', () => {
    const s = {
      token: 3, vectors: 2048, fired: 2 ** 40 + 5, acked: 7, paired: 6, unpaired: 1, dropped: 0, raiseErrors: 0, intxSignals: 2,
      resamples: 2, buckets: Array.from({ length: HISTOGRAM_BUCKETS }, (_, i) => i),
    };
    expect(decodeStats(encodeStats(s), HISTOGRAM_BUCKETS)).toEqual(s);
    expect(() => decodeStats(encodeStats(s), HISTOGRAM_BUCKETS + 1)).toThrow(/STATS/);
    const v = { token: 3, first: 1000, counts: [1, 2, 3] };
    expect(decodeVectorCounts(encodeVectorCounts(v), 2048)).toEqual(v);
    expect(() => decodeVectorCounts(encodeVectorCounts(v), 1002)).toThrow(/beyond/);
    expect(() => decodeVectorCounts(u32(1, 0, 5000), 2048)).toThrow(/max/);
    expect(() => decodeVectorCounts(u32(1), 2048)).toThrow(/too short/);
  });

  it('encodes CREDIT and counts the raises a command asks for', () => {
    const c = { commands: 2 ** 32 - 1, raises: 12 };
    expect(decodeCredit(encodeCredit(c))).toEqual(c);
    expect(() => decodeCredit(u32(1))).toThrow(/CREDIT/);
    expect(raisesOf({ op: 'burst', kind: RaiseKind.msix, vector: 0, count: 9 })).toBe(9);
    expect(raisesOf({ op: 'fire-range', kind: RaiseKind.msix, first: 3, last: 6 })).toBe(4);
    expect(raisesOf({ op: 'ack', vector: 0 })).toBe(0);
  });
});
