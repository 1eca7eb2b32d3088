import { describe, expect, it } from 'vitest';
import { msiCells } from './msi-decode.js';

describe('msiCells', () => {
  it('decodes a fixed edge message to APIC 1', () => {
    expect(msiCells(0xfee01000, 0, 0x0031)).toEqual({ destination: 'APIC 1 phys', delivery: 'vec 0x31 Fixed edge', vector: 0x31, dest: 1 });
  });

  it('decodes logical, lowest priority, level assert and extended destination IDs', () => {
    const c = msiCells(0xfee00000 | (0x3 << 12) | (0x2 << 5) | (1 << 2), 0, 0x40 | (1 << 8) | (1 << 14) | (1 << 15));
    expect(c.destination).toBe(`APIC ${0x203} logical`);
    expect(c.delivery).toBe('vec 0x40 Lowest Priority level assert');
  });

  it('says when the address is not in the interrupt window', () => {
    expect(msiCells(0x1000, 0, 0x31).destination).toBe('not an interrupt (memory write)');
  });
});
