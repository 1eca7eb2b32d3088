import { describe, expect, it } from 'vitest';
import { BINARY_THRESHOLD, decodeFrame, encodeFrame, encodeText, fromBase64, toBase64 } from './wire.js';

describe('wire codec', () => {
  it('matches Node base64 for every length remainder', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 255, 3 * 8192 + 1, 100_000]) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + 11) & 255);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(fromBase64(toBase64(bytes))).toEqual(bytes);
    }
  });

  it('keeps Uint8Array, undefined arguments and bigint through a text frame', () => {
    const frame = { t: 'req', id: 1, ch: 'vmm:save-profile', args: [{ a: 1 }, undefined], data: new Uint8Array([0, 255]), reg: 2n ** 64n - 1n };
    const text = encodeFrame(frame);
    expect(typeof text).toBe('string');
    expect(text).toContain('{"$bytes":"AP8="}');
    const back = decodeFrame(text) as typeof frame;
    expect(back).toEqual(frame);
    expect(back.args).toHaveLength(2);
    expect(decodeFrame(encodeFrame({ a: undefined }))).toEqual({}); // object members vanish as in JSON
  });

  it('sends large binary data as a binary frame', () => {
    const big = new Uint8Array(BINARY_THRESHOLD + 1).fill(9);
    const small = new Uint8Array([1, 2, 3]);
    const frame = { t: 'req', id: 2, args: [{ kind: 'bytes', name: 'x', data: big }, small], text: 'é' };
    const bin = encodeFrame(frame);
    expect(bin).toBeInstanceOf(Uint8Array);
    expect((bin as Uint8Array).length).toBeLessThan(big.length + 200);
    expect(decodeFrame(bin as Uint8Array)).toEqual(frame);
    expect(typeof encodeText(frame)).toBe('string');
  });

  it('rejects malformed tags and layouts', () => {
    for (const bad of ['{"$bytes":5}', '{"$bytes":"A"}', '{"$bytes":"A=AA"}', '{"$bigint":"1e9"}', '{"$blob":[0,1]}', 'nope']) {
      expect(() => decodeFrame(bad), bad).toThrow(SyntaxError);
    }
    const header = new TextEncoder().encode('{"$blob":[0,10]}');
    const frame = new Uint8Array(4 + header.length + 2);
    new DataView(frame.buffer).setUint32(0, header.length, true);
    frame.set(header, 4);
    expect(() => decodeFrame(frame)).toThrow('does not fit');
    expect(() => decodeFrame(new Uint8Array([255, 255, 255, 255, 0]))).toThrow('runs past');
    expect(() => decodeFrame(new Uint8Array([1]))).toThrow('too short');
    expect(decodeFrame('{"$other":1,"x":2}')).toEqual({ $other: 1, x: 2 });
  });
});
