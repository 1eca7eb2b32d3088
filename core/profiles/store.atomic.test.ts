// Atomic save under failure: rename (the commit point) is made to fail, and the old
// profile must survive byte for byte with no temp file left behind.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { saveProfile } from './store.js';
import { sampleProfile, withTempDir } from './test-helpers.js';

const failures = vi.hoisted(() => ({ rename: false, sync: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...real,
    rename: async (...args: Parameters<typeof real.rename>) => {
      if (failures.rename) throw Object.assign(new Error('simulated'), { code: 'EIO' });
      return real.rename(...args);
    },
    open: async (...args: Parameters<typeof real.open>) => {
      const fh = await real.open(...args);
      if (failures.sync && args[1] === 'wx') {
        // Fail after half the data reached the temp file, like a full disk would.
        fh.writeFile = async (data) => {
          await real.appendFile(args[0], String(data).slice(0, 10));
          throw Object.assign(new Error('simulated'), { code: 'ENOSPC' });
        };
      }
      return fh;
    },
  };
});

describe('saveProfile atomicity', () => {
  it.each([
    ['rename', 'EIO'],
    ['sync', 'ENOSPC'],
  ] as const)('keeps the old file when %s fails', (which, code) =>
    withTempDir(async (dir) => {
      const file = join(dir, 'demo.json');
      await saveProfile(file, sampleProfile({ cpus: 1 }));
      const before = await readFile(file, 'utf8');
      failures[which] = true;
      try {
        await expect(saveProfile(file, sampleProfile({ cpus: 8 }))).rejects.toThrow(`(${code}); check that the folder exists`);
      } finally {
        failures[which] = false;
      }
      expect(await readFile(file, 'utf8')).toBe(before);
      expect(await readdir(dir)).toEqual(['demo.json']);
    }),
  );
});
