import { describe, expect, it } from 'vitest';
import { VmmError } from '../errors.js';
import * as aml from './aml.js';
import { AmlEncodeError } from './aml.js';
import { byteSum } from './encode.js';
import { dwordMemory, ioPort, qwordMemory, resourceTemplate, ResourceEncodeError, wordBusNumber, wordIo } from './resources.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

describe('PkgLength', () => {
  it.each([
    [1, [0x01]],
    [63, [0x3f]],
    [64, [0x40, 0x04]],
    [0x123, [0x43, 0x12]],
    [4095, [0x4f, 0xff]],
    [4096, [0x80, 0x00, 0x01]],
    [2 ** 20 - 1, [0x8f, 0xff, 0xff]],
    [2 ** 20, [0xc0, 0x00, 0x00, 0x01]],
    [2 ** 28 - 1, [0xcf, 0xff, 0xff, 0xff]],
  ])('encodes %i', (total, bytes) => {
    expect([...aml.pkgLength(total)]).toEqual(bytes);
  });

  it('rejects lengths it cannot encode', () => {
    expect(() => aml.pkgLength(0)).toThrow(AmlEncodeError);
    expect(() => aml.pkgLength(2 ** 28)).toThrow(AmlEncodeError);
  });

  // The PkgLength counts itself: a body of 62 bytes is 63 in total (one byte), a body of 63
  // would be 64 and needs two; 4093 + 2 = 4095 is the largest two-byte package.
  it.each([
    [62, [0x3f]],
    [63, [0x41, 0x04]],
    [4093, [0x4f, 0xff]],
    [4094, [0x81, 0x00, 0x01]],
  ])('prefixes a %i-byte body with the length that covers itself', (n, head) => {
    const out = aml.withPkgLength(new Uint8Array(n).fill(0xaa));
    expect([...out.subarray(0, head.length)]).toEqual(head);
    expect(out.length).toBe(n + head.length);
    expect(out[head.length]).toBe(0xaa);
  });
});

describe('integers', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [2, '0a02'],
    [0xff, '0aff'],
    [0x100, '0b0001'],
    [0xffff, '0bffff'],
    [0x10000, '0c00000100'],
    [0xffffffff, '0cffffffff'],
    [0x100000000, '0e0000000001000000'],
    [2n ** 64n - 2n, '0efeffffffffffffff'],
    [2n ** 64n - 1n, 'ff'],
  ] as const)('encodes %s as %s', (v, out) => {
    expect(hex(aml.integer(v))).toBe(out);
  });

  it('rejects negative, fractional, unsafe and too-large values', () => {
    for (const v of [-1, 1.5, 2 ** 53, 2n ** 64n]) expect(() => aml.integer(v)).toThrow(AmlEncodeError);
  });
});

describe('names', () => {
  it('encodes name segments, paths and prefixes', () => {
    expect(aml.nameSeg('_S5')).toEqual(Uint8Array.from(ascii('_S5_')));
    expect([...aml.namePath('PCI0')]).toEqual(ascii('PCI0'));
    expect([...aml.namePath('\\_SB')]).toEqual([0x5c, ...ascii('_SB_')]);
    expect([...aml.namePath('\\_SB.PCI0')]).toEqual([0x5c, 0x2e, ...ascii('_SB_PCI0')]);
    expect([...aml.namePath('\\_SB.PCI0.MRES')]).toEqual([0x5c, 0x2f, 3, ...ascii('_SB_PCI0MRES')]);
    expect([...aml.namePath('^^FOO')]).toEqual([0x5e, 0x5e, ...ascii('FOO_')]);
    expect([...aml.namePath('\\')]).toEqual([0x5c, 0x00]);
    expect([...aml.namePath('')]).toEqual([0x00]); // NullName
  });

  it('rejects invalid segments', () => {
    for (const p of ['pci0', '0ABC', 'TOOLONG', '\\_SB..X', 'A.']) expect(() => aml.namePath(p)).toThrow(AmlEncodeError);
  });
});

describe('EISAID', () => {
  it.each([
    ['PNP0A08', 0x080ad041],
    ['PNP0A03', 0x030ad041],
    ['PNP0C02', 0x020cd041],
  ])('compresses %s to 0x%s', (id, v) => {
    expect(aml.eisaIdValue(id)).toBe(v);
    expect(hex(aml.eisaId(id))).toBe('0c' + Buffer.from(Uint32Array.of(v).buffer).toString('hex'));
  });

  it('rejects ids that are not three letters and four hex digits', () => {
    for (const id of ['PNP0A0', 'pnp0a08', 'PN10A08', 'PNP0G08']) expect(() => aml.eisaIdValue(id)).toThrow(AmlEncodeError);
  });
});

describe('data and named objects', () => {
  it('encodes strings, buffers and packages', () => {
    expect(hex(aml.string('AB'))).toBe('0d414200');
    expect(hex(aml.buffer(Uint8Array.of(0x79, 0)))).toBe('1105' + '0a02' + '7900');
    expect(hex(aml.pkg(aml.integer(5), aml.integer(0)))).toBe('1205' + '02' + '0a05' + '00');
    expect(() => aml.string('\u0000')).toThrow(AmlEncodeError);
    expect(() => aml.pkg(...Array.from({ length: 256 }, () => aml.integer(0)))).toThrow(AmlEncodeError);
  });

  it('encodes Name, Scope and Device', () => {
    // Name(_S5, Package() { 5, 5, 0, 0 }) exactly as iasl compiles it.
    expect(hex(aml.name('_S5', aml.pkg(aml.integer(5), aml.integer(5), aml.integer(0), aml.integer(0))))).toBe('085f53355f1208040a050a050000');
    expect(hex(aml.scope('\\_SB'))).toBe('1006' + '5c5f53425f');
    expect(hex(aml.device('PCI0', aml.name('_UID', aml.integer(0))))).toBe('5b820b' + '50434930' + '085f55494400');
  });

  it('uses a multi-byte PkgLength for large devices', () => {
    const big = aml.device('BIG', aml.name('_CRS', aml.buffer(new Uint8Array(100))));
    expect([...big.subarray(0, 4)]).toEqual([0x5b, 0x82, 0x40 | ((big.length - 2) & 0xf), (big.length - 2) >> 4]);
  });

  it('throws VmmError subclasses', () => {
    expect(new AmlEncodeError('x')).toBeInstanceOf(VmmError);
    expect(new ResourceEncodeError('x')).toBeInstanceOf(VmmError);
  });
});

describe('resource descriptors', () => {
  it('encodes each descriptor as iasl does', () => {
    // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0, 0, 1)
    expect(hex(wordBusNumber({ min: 0, max: 0 }))).toBe('880d00' + '020c00' + '0000' + '0000' + '0000' + '0000' + '0100');
    // IO(Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
    expect(hex(ioPort({ min: 0xcf8, max: 0xcf8, alignment: 1, length: 8 }))).toBe('4701f80cf80c0108');
    // WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0xD00, 0xFFFF, 0, 0xF300)
    expect(hex(wordIo({ min: 0xd00, max: 0xffff }))).toBe('880d00' + '010c03' + '0000' + '000d' + 'ffff' + '0000' + '00f3');
    // DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, 0xC0000000, 0xDFFFFFFF, 0, 0x20000000)
    expect(hex(dwordMemory({ min: 0xc0000000, max: 0xdfffffff }))).toBe(
      '871700' + '000c01' + '00000000' + '000000c0' + 'ffffffdf' + '00000000' + '00000020',
    );
    // QWordMemory(ResourceConsumer, ..., Cacheable, ReadWrite, 0, 0x100000000, 0x8FFFFFFFF, 0, 0x800000000)
    expect(hex(qwordMemory({ min: 0x100000000, max: 0x8ffffffffn, caching: 'cacheable', usage: 'consumer' }))).toBe(
      '8a2b00' + '000d03' + '0000000000000000' + '0000000001000000' + 'ffffffff08000000' + '0000000000000000' + '0000000008000000',
    );
  });

  it('ends a template with an End Tag whose checksum zeroes the sum', () => {
    const t = resourceTemplate(wordBusNumber({ min: 0, max: 0 }), ioPort({ min: 0xcf8, max: 0xcf8, alignment: 1, length: 8 }));
    expect(t[t.length - 2]).toBe(0x79);
    expect(byteSum(t)).toBe(0);
    expect([...resourceTemplate()]).toEqual([0x79, 0x87]);
  });

  it('rejects ranges that do not fit', () => {
    expect(() => wordIo({ min: 0, max: 0x10000 })).toThrow(ResourceEncodeError);
    expect(() => dwordMemory({ min: 0x10, max: 0xf })).toThrow(ResourceEncodeError);
    expect(() => dwordMemory({ min: 0, max: 0xffffffff })).toThrow(ResourceEncodeError); // _LEN would be 2^32
    expect(() => ioPort({ min: 0xcf8, max: 0xcf8, alignment: 1, length: 256 })).toThrow(ResourceEncodeError);
  });
});
