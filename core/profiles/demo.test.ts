import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { demoProfile, interruptLabDemos, labGuestPath, labProfiles, STORM_DEMO, XEN_DEMO } from './demo.js';
import { parseProfile } from './schema.js';
import { resolveProfile } from './store.js';

describe('built-in profiles', () => {
  it('finds the package root', () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('irqbench');
  });

  it('demo runs the hello lab guest', () => {
    const demo = demoProfile();
    expect(parseProfile(demo)).toEqual(demo);
    expect(demo).toMatchObject({ name: 'Interrupt Lab: hello', cpus: 2, memoryMiB: 128, irqchip: 'kernel' });
    expect(demo.boot).toMatchObject({ kernel: join(packageRoot(), 'guests/out/hello.elf'), cmdline: 'console=ttyS0' });
    // Absolute kernel: resolving against any folder keeps it.
    expect(resolveProfile(demo, '/elsewhere').boot.kernel).toBe(demo.boot.kernel);
  });

  it('lists only lab guests that are built, each valid', () => {
    for (const p of labProfiles()) {
      expect(parseProfile(p)).toEqual(p);
      expect(existsSync(p.boot.kernel)).toBe(true);
    }
    const built = ['hello', 'smp', 'lapic', 'ioapic', 'serial'].filter((g) => existsSync(labGuestPath(g)));
    const demos = interruptLabDemos().filter((p) => existsSync(p.boot.kernel)).map((p) => p.name);
    expect(labProfiles().map((p) => p.name)).toEqual([...demos, ...built.map((g) => `Interrupt Lab: ${g}`)]);
  });

  it('offers the Interrupt Lab demos: an MSI-X storm and Xen event channels', () => {
    const [storm, xen] = interruptLabDemos();
    for (const p of [storm!, xen!]) expect(parseProfile(p)).toEqual(p);
    expect(storm).toMatchObject({ name: STORM_DEMO, platform: 'kvm', cpus: 2 });
    expect(storm!.boot.kernel).toBe(labGuestPath('irqlab-msix'));
    expect(storm!.boot.cmdline).toMatch(/storm_rate=100000/);
    expect(storm!.devices.filter((d) => d.type === 'irq-lab')).toEqual([{ type: 'irq-lab', msix: { vectors: 2048, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0 } }]);
    expect(xen).toMatchObject({ name: XEN_DEMO, platform: 'xen-hvm', cpus: 2 });
    expect(xen!.boot.kernel).toBe(labGuestPath('xen-demo'));
    expect(xen!.devices.filter((d) => d.type === 'irq-lab')).toHaveLength(2);
    // each call hands out fresh objects: editing one cannot change the built-ins
    storm!.devices.length = 0;
    expect(interruptLabDemos()[0]!.devices.length).toBeGreaterThan(0);
  });
});
