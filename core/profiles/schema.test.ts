import { describe, expect, it } from 'vitest';
import { DEFAULT_DEVICES } from '../machine/config.js';
import { ProfileError } from './errors.js';
import { parseProfile, type ProfileInput } from './schema.js';

const minimal = (): ProfileInput => ({
  version: 1,
  name: 'demo',
  platform: 'kvm',
  cpus: 2,
  memoryMiB: 128,
  boot: { kernel: 'hello.elf' },
});

function errorOf(data: unknown, label = 'demo.json'): ProfileError {
  try {
    parseProfile(data, label);
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileError);
    return e as ProfileError;
  }
  throw new Error('expected the profile to be rejected');
}

const with_ = (patch: Record<string, unknown>) => ({ ...minimal(), ...patch });
const withBoot = (patch: Record<string, unknown>) => ({ ...minimal(), boot: { kernel: 'k', ...patch } });

describe('parseProfile', () => {
  it('accepts PCI devices with an assigned-device style MSI-X layout', () => {
    const p = parseProfile({
      ...minimal(),
      devices: [
        { type: 'irq-lab', slot: 3, msix: { vectors: 2048, tableBar: 2, tableOffset: 0x1000, pbaBar: 2, pbaOffset: 0 } },
        { type: 'irq-lab', msix: { vectors: 8 } },
        { type: 'virtio-blk', image: 'disk.img' },
        { type: 'virtio-rng' },
      ],
    });
    expect(p.devices[1]).toEqual({ type: 'irq-lab', msix: { vectors: 8, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x8000 } });
  });

  it.each([
    [{ type: 'irq-lab', msix: { vectors: 4096 } }, 'devices[0].msix.vectors: must be at most 2048'],
    [{ type: 'irq-lab', msix: { vectors: 4, tableOffset: 4 } }, 'devices[0].msix.tableOffset: must be a multiple of 8'],
    [{ type: 'irq-lab', msix: { vectors: 64, pbaOffset: 0x100 } }, 'devices[0].msix.pbaOffset: PBA overlaps the 64-vector table in BAR1'],
    [{ type: 'irq-lab', msix: { vectors: 4, tableBar: 0 } }, "devices[0].msix.tableBar: BAR0 holds the device's registers"],
    [{ type: 'irq-lab', slot: 0 }, 'devices[0].slot: must be at least 1'],
    [{ type: 'virtio-blk' }, 'give either image (our backend) or socket'],
  ])('rejects PCI device %j', (device, message) => {
    expect(() => parseProfile({ ...minimal(), devices: [device] }, 'demo.json')).toThrow(message);
  });

  it('rejects two devices in one PCI slot', () => {
    expect(() => parseProfile({ ...minimal(), devices: [{ type: 'virtio-rng', slot: 4 }, { type: 'irq-lab', slot: 4 }] })).toThrow(
      'devices[1].slot: PCI slot 4 is already used by devices[0]',
    );
  });

  it('fills defaults', () => {
    const p = parseProfile(minimal());
    expect(p.irqchip).toBe('kernel');
    expect(p.boot).toEqual({ kind: 'auto', kernel: 'hello.elf', cmdline: '' });
    expect(p.devices).toEqual(DEFAULT_DEVICES);
    expect(p.devices).not.toBe(DEFAULT_DEVICES); // callers may mutate their copy
  });

  it('accepts a full profile', () => {
    const full = {
      ...minimal(),
      description: 'x',
      platform: 'xen-hvm',
      irqchip: 'split',
      boot: { kind: 'multiboot', kernel: 'k', initrd: 'i', modules: ['a', 'b'], cmdline: 'console=ttyS0' },
      devices: [{ type: 'uart16550', port: 0x2f8, irq: 3 }],
    };
    expect(parseProfile(full)).toEqual(full);
  });

  it.each([
    [{ boot: {} }, 'profile demo.json: boot.kernel: Required'],
    [{ cpus: 65 }, 'profile demo.json: cpus: must be at most 64'],
    [{ cpus: 0 }, 'cpus: must be at least 1'],
    [{ cpus: 1.5 }, 'cpus: must be an integer'],
    [{ cpus: '2' }, 'cpus: must be a number, not a string'],
    [{ memoryMiB: 129 }, 'memoryMiB: must be a multiple of 2'],
    [{ memoryMiB: 8 }, 'memoryMiB: must be at least 16'],
    [{ memoryMiB: 65538 }, 'memoryMiB: must be at most 65536'],
    [{ version: undefined }, 'version: Required'],
    [{ version: 0 }, 'version: must be 1'],
    [{ platform: 'tcg' }, 'platform: must be one of "kvm", "xen-hvm"'],
    [{ irqchip: 'user' }, 'irqchip: must be one of "kernel", "split"'],
    [{ name: '' }, 'name: must not be empty'],
    [{ name: 'x'.repeat(65) }, 'name: must be at most 64 characters'],
    [{ name: 'bad/name' }, 'name: must start with a letter or digit'],
    [{ name: ' lead' }, 'name: must start with a letter or digit'],
    [{ name: 'trail ' }, 'name: must start with a letter or digit'],
    [{ colour: 'red' }, 'colour: unknown field'],
    [{ devices: {} }, 'devices: must be an array, not an object'],
    [{ devices: [{ type: 'virtio-net' }] }, 'devices[0].type: must be one of "uart16550", "debug-exit", "irq-line-testdev"'],
    [{ devices: [{ type: 'uart16550', port: 0x10000, irq: 4 }] }, 'devices[0].port: must be at most 65535'],
    [{ devices: [{ type: 'uart16550', port: 0x3f8, irq: 16 }] }, 'devices[0].irq: must be at most 15'],
    [{ devices: [{ type: 'uart16550', port: 0x3f8 }] }, 'devices[0].irq: Required'],
    [{ devices: [{ type: 'debug-exit', port: 0xf4, irq: 1 }] }, 'devices[0].irq: unknown field'],
    [
      { devices: [{ type: 'debug-exit', port: 0xf4 }, { type: 'irq-line-testdev', port: 0xf4 }] },
      'devices[1].port: port 0xf4 is already used by devices[0]',
    ],
  ])('rejects %j', (patch, message) => {
    expect(errorOf(with_(patch)).message).toContain(message);
  });

  it.each([
    [{ kind: 'elf' }, 'boot.kind: must be one of "auto", "pvh", "multiboot", "bzimage"'],
    [{ kernel: '' }, 'boot.kernel: must not be empty'],
    [{ initrd: 3 }, 'boot.initrd: must be a string, not a number'],
    [{ modules: ['a', ''] }, 'boot.modules[1]: must not be empty'],
    [{ cmdline: null }, 'boot.cmdline: must be a string, not null'],
    [{ extra: true }, 'boot.extra: unknown field'],
  ])('rejects boot %j', (patch, message) => {
    expect(errorOf(withBoot(patch)).message).toContain(message);
  });

  it('lists every problem and keeps them as issues', () => {
    const e = errorOf(with_({ cpus: 99, boot: {} }));
    expect(e.message).toBe('profile demo.json: cpus: must be at most 64; boot.kernel: Required');
    expect(e.issues).toEqual([
      { path: 'cpus', message: 'must be at most 64' },
      { path: 'boot.kernel', message: 'Required' },
    ]);
    expect(e.cause).toBeDefined();
  });

  it('rejects a non-object', () => {
    expect(errorOf([]).message).toBe('profile demo.json: must be an object, not an array');
    expect(errorOf(null, '').message).toBe('invalid profile: must be an object, not null');
  });

  it('explains a newer version', () => {
    expect(errorOf(with_({ version: 2 })).message).toBe(
      'profile demo.json: version 2 is newer than this irqbench reads (1); update irqbench',
    );
  });
});

describe('device union', () => {
  it('names a missing discriminator', () => {
    expect(errorOf(with_({ devices: [{ port: 1 }] })).message).toContain('devices[0].type: must be one of');
  });
});
