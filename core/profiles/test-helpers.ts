// Shared fixtures for the profile tests (not shipped: only *.test.ts import this).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProfileInput } from './schema.js';

export const sampleProfile = (patch: Partial<ProfileInput> = {}): ProfileInput => ({
  version: 1,
  name: 'demo',
  platform: 'kvm',
  cpus: 2,
  memoryMiB: 128,
  boot: { kernel: 'hello.elf' },
  ...patch,
});

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'irqbench-profiles-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
