// x86 MSI address/data decoding and encoding (Intel SDM vol. 3A §11.11).
import { describe, expect, it } from 'vitest';
import { decodeMsi, describeMsi, encodeMsi, MsiEncodeError, type MsiFields } from './msi-decode.js';

const fixed = (dest: number, vector: number): MsiFields => ({
  destinationId: dest,
  destinationMode: 'physical',
  redirectionHint: false,
  vector,
  deliveryMode: 0,
  trigger: 'edge',
  level: 'assert',
});

describe('decodeMsi', () => {
  it('decodes the fields Linux programs', () => {
    const d = decodeMsi({ addressLo: 0xfee0200c, addressHi: 0, data: 0xc131 });
    expect(d).toEqual({
      interruptWindow: true,
      remappable: false,
      extendedDestinationBits: 0,
      destinationId: 2,
      destinationMode: 'logical',
      redirectionHint: true,
      vector: 0x31,
      deliveryMode: 1,
      deliveryModeName: 'Lowest Priority',
      trigger: 'level',
      level: 'assert',
    });
  });

  it('folds the extended destination ID (address bits 11:5 → destination 14:8)', () => {
    const lo = 0xfee00000 | (0x34 << 12) | (0x12 << 5);
    expect(decodeMsi({ addressLo: lo, addressHi: 0, data: 0x20 }).destinationId).toBe(0x1234);
    expect(decodeMsi({ addressLo: lo, addressHi: 0, data: 0x20 }, { extendedDestId: false }).destinationId).toBe(0x34);
    expect(decodeMsi({ addressLo: 0xfee05000, addressHi: 0x00012300, data: 0 }).destinationId).toBe(0x12305);
  });

  it('names every delivery mode and flags non-interrupt addresses', () => {
    const names = [0, 1, 2, 3, 4, 5, 6, 7].map((m) => decodeMsi({ addressLo: 0xfee00000, addressHi: 0, data: m << 8 }).deliveryModeName);
    expect(names).toEqual(['Fixed', 'Lowest Priority', 'SMI', 'Reserved (3)', 'NMI', 'INIT', 'Reserved (6)', 'ExtINT']);
    expect(decodeMsi({ addressLo: 0x12345678, addressHi: 0, data: 0 }).interruptWindow).toBe(false);
    expect(decodeMsi({ addressLo: 0xfee00010, addressHi: 0, data: 0 }).remappable).toBe(true);
  });
});

describe('encodeMsi', () => {
  it('round-trips through decode', () => {
    for (const f of [
      fixed(0, 0x20),
      { ...fixed(3, 0xec), destinationMode: 'logical', redirectionHint: true, deliveryMode: 1 } as MsiFields,
      { ...fixed(0x1234, 0x41), trigger: 'level', level: 'assert' } as MsiFields,
      { ...fixed(7, 2), deliveryMode: 4, level: 'deassert' } as MsiFields,
    ]) {
      const { interruptWindow, remappable, extendedDestinationBits, deliveryModeName, ...back } = decodeMsi(encodeMsi(f));
      expect(back).toEqual(f);
      expect(interruptWindow && !remappable).toBe(true);
      void extendedDestinationBits;
      void deliveryModeName;
    }
  });

  it('chooses the extended destination form or address_hi for large IDs', () => {
    expect(encodeMsi(fixed(0x1234, 0x30))).toEqual({ addressLo: (0xfee00000 | (0x34 << 12) | (0x12 << 5)) >>> 0, addressHi: 0, data: 0x4030 });
    expect(encodeMsi(fixed(0x12345, 0x30))).toEqual({ addressLo: 0xfee45000, addressHi: 0x12300, data: 0x4030 });
    expect(encodeMsi(fixed(0x1234, 0x30), { highDestination: 'address-hi' }).addressHi).toBe(0x1200);
    expect(() => encodeMsi(fixed(0x12345, 0), { highDestination: 'ext-dest-id' })).toThrow(MsiEncodeError);
    expect(() => encodeMsi(fixed(1, 256))).toThrow(MsiEncodeError);
  });

  it('describes messages in one line', () => {
    expect(describeMsi(encodeMsi(fixed(2, 0x31)))).toBe('vector 0x31 → APIC 2 (physical), Fixed, edge');
    expect(describeMsi({ addressLo: 0x1000, addressHi: 0, data: 0 })).toContain('not an interrupt');
  });
});
