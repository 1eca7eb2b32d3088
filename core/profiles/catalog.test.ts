import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProfile, loadCatalog } from './catalog.js';
import { demoProfile } from './demo.js';
import { saveProfile } from './store.js';
import { sampleProfile, withTempDir } from './test-helpers.js';
import { writeFile } from 'node:fs/promises';

describe('loadCatalog', () => {
  it('puts the demo first, then user profiles, and reports clashes and broken files', () =>
    withTempDir(async (dir) => {
      await saveProfile(join(dir, 'mine.json'), sampleProfile({ name: 'Mine' }));
      await saveProfile(join(dir, 'dup.json'), sampleProfile({ name: demoProfile().name }));
      await writeFile(join(dir, 'broken.json'), '{}');
      const cat = await loadCatalog(dir);
      expect(cat.entries[0]!.profile.name).toBe(demoProfile().name);
      expect(cat.entries[0]!.source).toBe('builtin');
      const mine = findProfile(cat, 'Mine');
      expect(mine).toMatchObject({ source: 'user', dir, file: join(dir, 'mine.json') });
      expect(cat.broken.map((b) => b.file).sort()).toEqual([join(dir, 'broken.json'), join(dir, 'dup.json')]);
      expect(cat.broken.find((b) => b.file.endsWith('dup.json'))!.error.message).toContain('is already taken; rename the profile');
    }));

  it('works without a user folder and names an unknown profile', async () => {
    const cat = await loadCatalog(undefined);
    expect(cat.broken).toEqual([]);
    expect(() => findProfile(cat, 'nope')).toThrow('no profile named "nope"; pick one from the library');
  });
});
