import { describe, expect, it } from 'vitest';
import * as P from './protocol.js';

const u8 = (...b: number[]): Uint8Array => Uint8Array.from(b);

function header(request: number, flags: number, size: number): Uint8Array {
  return P.encodeHeader({ request, flags, size });
}

describe('vhost-user header', () => {
  it('round-trips a message', () => {
    const m = P.encodeMessage(P.Req.SET_FEATURES, P.VHOST_USER_FLAG_NEED_REPLY, P.encodeU64(0x1_4000_0000n));
    expect(m.length).toBe(20);
    expect(P.decodeHeader(m.subarray(0, 12))).toEqual({ request: 2, flags: 0x9, size: 8 });
    expect(P.decodeU64(m.subarray(12))).toBe(0x1_4000_0000n);
  });

  it('rejects wrong versions, unknown flags, oversized payloads and short headers', () => {
    expect(() => P.decodeHeader(header(1, 0, 0))).toThrow(P.VhostProtocolError);
    expect(() => P.decodeHeader(header(1, 0x2, 0))).toThrow(/version/);
    expect(() => P.decodeHeader(header(1, 0x1 | 0x10, 0))).toThrow(/flag/);
    expect(() => P.decodeHeader(header(1, 0x1, P.MAX_PAYLOAD + 1))).toThrow(/exceeds/);
    expect(() => P.decodeHeader(header(1, 0x1, 0xffffffff))).toThrow(/exceeds/);
    expect(() => P.decodeHeader(new Uint8Array(11))).toThrow(/12/);
  });
});

describe('vhost-user payloads', () => {
  it('checks exact sizes', () => {
    expect(() => P.decodeU64(new Uint8Array(7))).toThrow(/want 8/);
    expect(() => P.decodeU64(new Uint8Array(9))).toThrow(/want 8/);
    expect(() => P.decodeVringState(new Uint8Array(4))).toThrow(P.VhostProtocolError);
    expect(() => P.decodeVringAddr(new Uint8Array(39))).toThrow(P.VhostProtocolError);
  });

  it('round-trips vring state and address, refusing unknown address flags', () => {
    expect(P.decodeVringState(P.encodeVringState({ index: 3, num: 256 }))).toEqual({ index: 3, num: 256 });
    const a = { index: 1, flags: 0, desc: 0x1000n, used: 0x3000n, avail: 0x2000n, log: 0n };
    expect(P.decodeVringAddr(P.encodeVringAddr(a))).toEqual(a);
    expect(() => P.decodeVringAddr(P.encodeVringAddr({ ...a, flags: 2 }))).toThrow(/flags/);
  });

  it('decodes vring fd messages and refuses reserved bits', () => {
    expect(P.decodeVringFd(P.encodeVringFd(5, false), 'KICK')).toEqual({ index: 5, noFd: false });
    expect(P.decodeVringFd(P.encodeVringFd(0, true), 'KICK')).toEqual({ index: 0, noFd: true });
    expect(() => P.decodeVringFd(P.encodeU64(0x200), 'KICK')).toThrow(/reserved/);
    expect(() => P.decodeVringFd(P.encodeU64(1n << 63n), 'KICK')).toThrow(/reserved/);
  });

  it('round-trips a memory table', () => {
    const r = [
      { guestAddr: 0n, size: 0x100000n, userAddr: 0x7f0000000000n, mmapOffset: 0n },
      { guestAddr: 0x100000000n, size: 0x100000n, userAddr: 0x7f0000100000n, mmapOffset: 0x100000n },
    ];
    expect(P.decodeMemTable(P.encodeMemTable(r))).toEqual(r);
  });

  it('refuses hostile memory tables', () => {
    const one = { guestAddr: 0n, size: 0x1000n, userAddr: 0x1000n, mmapOffset: 0n };
    const table = P.encodeMemTable([one]);
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    // region count zero / too many / not matching the size
    const zero = table.slice();
    dv(zero).setUint32(0, 0, true);
    expect(() => P.decodeMemTable(zero)).toThrow(/regions/);
    const nine = table.slice();
    dv(nine).setUint32(0, 9, true);
    expect(() => P.decodeMemTable(nine)).toThrow(/regions/);
    const two = table.slice();
    dv(two).setUint32(0, 2, true);
    expect(() => P.decodeMemTable(two)).toThrow(/want/);
    expect(() => P.decodeMemTable(new Uint8Array(4))).toThrow(/short/);
    // empty, wrapping, overlapping
    expect(() => P.decodeMemTable(P.encodeMemTable([{ ...one, size: 0n }]))).toThrow(/empty/);
    expect(() => P.decodeMemTable(P.encodeMemTable([{ ...one, guestAddr: (1n << 64n) - 0x800n }]))).toThrow(/wraps/);
    expect(() => P.decodeMemTable(P.encodeMemTable([{ ...one, mmapOffset: (1n << 64n) - 1n }]))).toThrow(/wraps/);
    expect(() => P.decodeMemTable(P.encodeMemTable([one, { ...one, guestAddr: 0x800n }]))).toThrow(/overlap/);
    expect(() => P.encodeMemTable([])).toThrow();
  });

  it('bounds config messages to 256 bytes', () => {
    const c = P.decodeConfig(P.encodeConfig({ offset: 8, data: u8(1, 2, 3) }), 'GET_CONFIG');
    expect(c).toEqual({ offset: 8, size: 3, flags: 0, data: u8(1, 2, 3) });
    const hostile = (offset: number, size: number, extra = 0): Uint8Array => {
      const b = new Uint8Array(12 + extra);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, offset, true);
      dv.setUint32(4, size, true);
      return b;
    };
    expect(() => P.decodeConfig(hostile(0, 257, 257), 'GET_CONFIG')).toThrow(/exceeds/);
    expect(() => P.decodeConfig(hostile(0xffffffff, 2, 2), 'GET_CONFIG')).toThrow(/exceeds/);
    expect(() => P.decodeConfig(hostile(250, 10, 10), 'GET_CONFIG')).toThrow(/exceeds/);
    expect(() => P.decodeConfig(hostile(0, 10, 4), 'GET_CONFIG')).toThrow(/want 22/);
    expect(() => P.decodeConfig(new Uint8Array(11), 'GET_CONFIG')).toThrow(/short/);
    const badFlags = P.encodeConfig({ offset: 0, data: u8(1), flags: 7 });
    expect(() => P.decodeConfig(badFlags, 'SET_CONFIG')).toThrow(/flags/);
  });

  it('decodes log and inflight payloads', () => {
    const log = new Uint8Array(16);
    new DataView(log.buffer).setBigUint64(0, 4096n, true);
    expect(P.decodeLog(log)).toEqual({ mmapSize: 4096n, mmapOffset: 0n });
    expect(() => P.decodeLog(new Uint8Array(8))).toThrow();
    const inf = { mmapSize: 8192n, mmapOffset: 0n, numQueues: 2, queueSize: 128 };
    expect(P.decodeInflight(P.encodeInflight(inf), 'SET_INFLIGHT_FD')).toEqual(inf);
    expect(() => P.decodeInflight(new Uint8Array(16), 'SET_INFLIGHT_FD')).toThrow();
  });

  it('keeps u64 values beyond 2^53 out of numbers', () => {
    expect(P.safeNumber(123n, 'x')).toBe(123);
    expect(() => P.safeNumber(1n << 60n, 'size')).toThrow(/out of range/);
  });
});
