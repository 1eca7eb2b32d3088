import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../paths.js';
import { demoProfile, labGuestPath, labProfiles } from './demo.js';
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
    expect(labProfiles().map((p) => p.name)).toEqual(built.map((g) => `Interrupt Lab: ${g}`));
  });
});
