import { describe, expect, it } from 'vitest';
import { parseStatsLayout, StatsFormatError } from './binary-stats.js';

function layout(names: { name: string; flags: number; exponent?: number; size?: number; offset: number }[], nameSize = 48): Uint8Array {
  const descOffset = 24 + nameSize;
  const descSize = 16 + nameSize;
  const buf = new Uint8Array(descOffset + names.length * descSize);
  const dv = new DataView(buf.buffer);
  dv.setUint32(4, nameSize, true);
  dv.setUint32(8, names.length, true);
  dv.setUint32(12, 24, true);
  dv.setUint32(16, descOffset, true);
  dv.setUint32(20, 4096, true);
  buf.set(Buffer.from('kvm-1234/vcpu-0'), 24);
  names.forEach((n, i) => {
    const o = descOffset + i * descSize;
    dv.setUint32(o, n.flags, true);
    dv.setInt16(o + 4, n.exponent ?? 0, true);
    dv.setUint16(o + 6, n.size ?? 1, true);
    dv.setUint32(o + 8, n.offset, true);
    buf.set(Buffer.from(n.name), o + 16);
  });
  return buf;
}

describe('KVM binary stats layout', () => {
  it('decodes names, types, units and scale', () => {
    const l = parseStatsLayout(layout([
      { name: 'exits', flags: 0, offset: 0 },
      { name: 'halt_wait_ns', flags: 0 | (2 << 4), exponent: -9, offset: 8 },
      { name: 'halt_poll_success_hist', flags: 3 | (2 << 4), size: 32, offset: 16 },
    ]));
    expect(l.id).toBe('kvm-1234/vcpu-0');
    expect(l.dataOffset).toBe(4096);
    expect(l.descriptors.map((d) => [d.name, d.type, d.unit, d.exponent, d.size])).toEqual([
      ['exits', 'cumulative', 'none', 0, 1],
      ['halt_wait_ns', 'cumulative', 'seconds', -9, 1],
      ['halt_poll_success_hist', 'linear-hist', 'seconds', 0, 32],
    ]);
  });

  it('rejects truncated or out-of-range layouts', () => {
    expect(() => parseStatsLayout(new Uint8Array(10))).toThrow(StatsFormatError);
    const l = layout([{ name: 'exits', flags: 0, offset: 0 }]);
    new DataView(l.buffer).setUint32(8, 1000, true);
    expect(() => parseStatsLayout(l)).toThrow(/out of range/);
  });
});
