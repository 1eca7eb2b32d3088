import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VmmError } from '../errors.js';
import { GuestMemory } from '../memory/guest-memory.js';
import { MiB, pcLayout } from '../memory/layout.js';
import { detectImage } from './detect.js';
import { ElfFormatError, UnsupportedImageError } from './errors.js';
import { chooseProtocol, loadKernel } from './index.js';
import { buildAoutKernel, buildBzImage, buildElf, buildMultibootHeader } from './synthetic.js';

const pvhNote = { name: 'Xen', type: 18, desc: Uint8Array.of(0, 0, 0x10, 0) };

function elfWith(opts: { pvh?: boolean; multiboot?: boolean }): Uint8Array {
  const text = new Uint8Array(0x100).fill(0x90);
  if (opts.multiboot) text.set(buildMultibootHeader(0x3), 0);
  return buildElf({
    elfClass: 64,
    entry: 0x100000n,
    segments: [{ paddr: 0x100000, data: text }],
    notes: opts.pvh ? [pvhNote] : [],
  });
}

function at(len: number, off: number, magic: number[] | string): Uint8Array {
  const b = new Uint8Array(len);
  b.set(typeof magic === 'string' ? Buffer.from(magic, 'latin1') : magic, off);
  return b;
}

describe('detectImage', () => {
  it('reports both capabilities of an ELF with a PVH note and a multiboot header', () => {
    const info = detectImage(elfWith({ pvh: true, multiboot: true }));
    expect(info.format).toBe('elf');
    expect(info.protocols).toEqual(['pvh', 'multiboot']);
    expect(info.elf).toEqual({ elfClass: 64, machine: 62, pvhNote: true });
    expect(info.multiboot).toMatchObject({ checksumOk: true, flags: 3 });
    expect(info.description).toMatch(/PVH entry note and a multiboot header/);
  });

  it('recognises PVH-only, multiboot-only and plain ELF', () => {
    expect(detectImage(elfWith({ pvh: true })).protocols).toEqual(['pvh']);
    expect(detectImage(elfWith({ multiboot: true })).protocols).toEqual(['multiboot']);
    const plain = detectImage(elfWith({}));
    expect(plain.protocols).toEqual([]);
    expect(plain.hint).toMatch(/CONFIG_PVH/);
  });

  it('recognises a bzImage and its protocol details', () => {
    const info = detectImage(buildBzImage({ version: 0x020f }));
    expect(info.format).toBe('bzimage');
    expect(info.bzImage).toEqual({ version: 0x020f, kernel64: true, relocatable: true });
    expect(info.protocols).toEqual(['bzimage']);
    expect(info.description).toBe('a Linux bzImage (boot protocol 2.15, 64-bit entry, relocatable)');
    const old = detectImage(buildBzImage({ version: 0x0206, xloadflags: 0 }));
    expect(old.protocols).toEqual([]);
    expect(old.description).toMatch(/2\.06/);
  });

  it('recognises an a.out-kludge multiboot kernel', () => {
    const info = detectImage(buildAoutKernel(0x100000));
    expect(info.format).toBe('multiboot-aout');
    expect(info.protocols).toEqual(['multiboot']);
  });

  const foreign: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'empty'],
    ['gzip', at(64, 0, [0x1f, 0x8b, 8]), 'gzip'],
    ['xz', at(64, 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), 'xz'],
    ['zstd', at(64, 0, [0x28, 0xb5, 0x2f, 0xfd]), 'zstd'],
    ['qcow2', at(64, 0, [0x51, 0x46, 0x49, 0xfb]), 'qcow2'],
    ['ISO 9660', at(0x9000, 0x8001, 'CD001'), 'iso9660'],
    ['GPT', (() => { const b = at(1024, 512, 'EFI PART'); b[510] = 0x55; b[511] = 0xaa; return b; })(), 'gpt-disk'],
    ['MBR', at(512, 510, [0x55, 0xaa]), 'mbr-disk'],
    ['PE', at(256, 0, 'MZ'), 'pe'],
    ['multiboot2', (() => { const b = new Uint8Array(64); const d = new DataView(b.buffer); d.setUint32(8, 0xe85250d6, true); d.setUint32(16, 16, true); d.setUint32(20, (-(0xe85250d6 + 16)) >>> 0, true); return b; })(), 'multiboot2'],
    ['random bytes', Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9), 'unknown'],
  ];
  for (const [name, bytes, format] of foreign) {
    it(`names ${name} and refuses to boot it with a hint`, () => {
      const info = detectImage(bytes);
      expect(info.format).toBe(format);
      expect(info.protocols).toEqual([]);
      const mem = GuestMemory.anonymous(pcLayout(4 * MiB));
      const boot = (): unknown => loadKernel(mem, { kernel: bytes, cmdline: '', modules: [], rsdpAddr: 0 }, 'auto');
      expect(boot).toThrow(UnsupportedImageError);
      expect(boot).toThrow(info.description);
    });
  }

  it('says what to do with compressed files', () => {
    expect(() => chooseProtocol(detectImage(at(64, 0, [0x1f, 0x8b])), 'auto')).toThrow(/gzip.*decompress/);
  });

  it('carries ELF parse errors instead of throwing', () => {
    const k = elfWith({ pvh: true });
    new DataView(k.buffer).setBigUint64(32, 0x10000000n, true);
    const info = detectImage(k);
    expect(info.error).toBeInstanceOf(ElfFormatError);
    expect(() => chooseProtocol(info, 'auto')).toThrow(ElfFormatError);
    expect(() => chooseProtocol(info, 'pvh')).toThrow(ElfFormatError);
  });

  const vmlinuz = (() => {
    try {
      return readdirSync('/boot').find((f) => f.startsWith('vmlinuz-'));
    } catch {
      return undefined;
    }
  })();
  if (!vmlinuz) console.log('skipping the host-kernel detection test: no /boot/vmlinuz-* on this machine');
  it.skipIf(!vmlinuz)('recognises the host distribution kernel as a bootable bzImage', () => {
    const info = detectImage(new Uint8Array(readFileSync(`/boot/${vmlinuz}`)));
    expect(info.format).toBe('bzimage');
    expect(info.protocols).toEqual(['bzimage']);
    expect(info.bzImage?.kernel64).toBe(true);
  });
});

describe('loadKernel', () => {
  const input = (kernel: Uint8Array) => ({ kernel, cmdline: 'x', modules: [], rsdpAddr: 0xe0000 });

  it('auto prefers PVH, then multiboot', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    expect(loadKernel(mem, input(elfWith({ pvh: true, multiboot: true })), 'auto').regs.rax).toBeUndefined();
    expect(loadKernel(mem, input(elfWith({ pvh: true, multiboot: true })), 'multiboot').regs.rax).toBe(0x2badb002);
    expect(loadKernel(mem, input(elfWith({ multiboot: true })), 'auto').regs.rax).toBe(0x2badb002);
    expect(loadKernel(mem, input(buildBzImage()), 'auto').mode).toBe('long64');
  });

  it('names what was detected when the requested kind does not match', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    expect(() => loadKernel(mem, input(buildBzImage()), 'pvh')).toThrow(UnsupportedImageError);
    expect(() => loadKernel(mem, input(buildBzImage()), 'multiboot')).toThrow(/Linux bzImage.*use boot kind 'bzimage'/);
    expect(() => loadKernel(mem, input(elfWith({ pvh: true })), 'bzimage')).toThrow(/ELF64 x86-64 kernel with a PVH entry note.*'pvh'/);
  });

  it('reads images that sit at an odd offset inside a larger buffer', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    for (const k of [elfWith({ pvh: true }), buildBzImage()]) {
      const big = new Uint8Array(k.length + 3);
      big.set(k, 3);
      expect(() => loadKernel(mem, input(big.subarray(3)), 'auto')).not.toThrow();
    }
  });

  // Random corruption of valid images must only ever produce VmmErrors (or boot).
  it('never throws a raw exception on corrupted images', () => {
    const mem = GuestMemory.anonymous(pcLayout(32 * MiB));
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const originals = [
      elfWith({ pvh: true, multiboot: true }),
      buildElf({ elfClass: 32, entry: 0x100000n, segments: [{ paddr: 0x100000, data: buildMultibootHeader(3) }] }),
      buildAoutKernel(0x100000),
      buildBzImage({ payload: new Uint8Array(0x400) }),
    ];
    let failures = 0;
    for (const original of originals) {
      for (let i = 0; i < 400; i++) {
        const k = original.slice(0, i % 7 === 0 ? rand(original.length) : original.length);
        for (let n = 1 + rand(6); n > 0 && k.length; n--) k[rand(n % 2 ? k.length : Math.min(k.length, 0x280))] = rand(256);
        try {
          loadKernel(mem, { kernel: k, cmdline: 'c', modules: [{ data: Uint8Array.of(1) }], rsdpAddr: 0 }, 'auto');
        } catch (e) {
          if (!(e instanceof VmmError)) {
            failures++;
            console.error(e);
          }
        }
      }
    }
    expect(failures).toBe(0);
  });
});
