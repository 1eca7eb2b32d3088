import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProfileError } from './errors.js';
import { parseProfile } from './schema.js';
import { assertBootFiles, listProfiles, loadProfile, resolveProfile, saveProfile } from './store.js';
import { sampleProfile, withTempDir } from './test-helpers.js';

async function loadError(path: string): Promise<ProfileError> {
  const e = await loadProfile(path).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProfileError);
  return e as ProfileError;
}

describe('loadProfile', () => {
  it('reads a valid file and fills defaults', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'demo.json');
      await writeFile(file, JSON.stringify(sampleProfile()));
      const p = await loadProfile(file);
      expect(p.name).toBe('demo');
      expect(p.irqchip).toBe('kernel');
    }));

  it('names the file and field of a schema error', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'demo.json');
      await writeFile(file, JSON.stringify({ ...sampleProfile(), cpus: 100, boot: {} }));
      const e = await loadError(file);
      expect(e.message).toBe('profile demo.json: cpus: must be at most 64; boot.kernel: Required');
      expect(e.file).toBe(file);
      expect(e.issues.map((i) => i.path)).toEqual(['cpus', 'boot.kernel']);
    }));

  it.each([
    ['{\n  "version": 1,\n}\n', 'line 3, column 1: expected a double-quoted property name'],
    ['{"version": 1 "name": "x"}', "line 1, column 15: expected ',' or '}'"],
    ['{"a": tru}', 'line 1, column 7: expected true'],
    ['{\n "a": [1, 2\n', 'line 3, column 1: unexpected end of file'],
    ['', 'line 1, column 1: unexpected end of file'],
  ])('locates invalid JSON %j', (text, where) =>
    withTempDir(async (dir) => {
      const file = join(dir, 'bad.json');
      await writeFile(file, text);
      const e = await loadError(file);
      expect(e.message).toBe(`profile bad.json: invalid JSON at ${where}`);
      expect(e.cause).toBeInstanceOf(SyntaxError);
    }),
  );

  it('reports a missing file', () =>
    withTempDir(async (dir) => {
      const e = await loadError(join(dir, 'none.json'));
      expect(e.message).toBe(`profile none.json: cannot read ${join(dir, 'none.json')} (ENOENT)`);
    }));
});

describe('saveProfile', () => {
  it('round-trips and leaves no temp file', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'demo.json');
      const input = sampleProfile({ description: 'round trip', boot: { kernel: 'k', modules: ['m'] } });
      await saveProfile(file, input);
      expect(await loadProfile(file)).toEqual(parseProfile(input));
      expect(await readdir(dir)).toEqual(['demo.json']);
      expect(await readFile(file, 'utf8')).toMatch(/^\{\n  "version": 1,[\s\S]*\}\n$/);
    }));

  it('replaces an existing profile', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'demo.json');
      await saveProfile(file, sampleProfile({ cpus: 1 }));
      await saveProfile(file, sampleProfile({ cpus: 4 }));
      expect((await loadProfile(file)).cpus).toBe(4);
    }));

  it('refuses an invalid profile without touching the file', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'demo.json');
      await saveProfile(file, sampleProfile());
      const before = await readFile(file, 'utf8');
      await expect(saveProfile(file, sampleProfile({ cpus: 0 }))).rejects.toThrow('profile demo.json: cpus: must be at least 1');
      expect(await readFile(file, 'utf8')).toBe(before);
    }));

  it('says what to do when the folder is missing', () =>
    withTempDir(async (dir) => {
      const file = join(dir, 'nope', 'demo.json');
      await expect(saveProfile(file, sampleProfile())).rejects.toThrow(
        `profile demo.json: cannot save to ${join(dir, 'nope')} (ENOENT); check that the folder exists and is writable`,
      );
    }));
});

describe('listProfiles', () => {
  it('lists valid and broken files in name order, skipping others', () =>
    withTempDir(async (dir) => {
      await saveProfile(join(dir, 'b.json'), sampleProfile({ name: 'B' }));
      await writeFile(join(dir, 'a.json'), '{');
      await writeFile(join(dir, 'notes.txt'), 'x');
      await writeFile(join(dir, '.c.json.123.tmp'), '{');
      await mkdir(join(dir, 'sub'));
      const list = await listProfiles(dir);
      expect(list.map((l) => [l.file, l.ok])).toEqual([
        [join(dir, 'a.json'), false],
        [join(dir, 'b.json'), true],
      ]);
      const bad = list[0]!;
      expect(!bad.ok && bad.error.message).toContain('profile a.json: invalid JSON at line 1, column 2');
    }));

  it('treats a missing folder as empty', async () => {
    expect(await listProfiles('/nonexistent/irqbench/profiles')).toEqual([]);
  });
});

describe('resolveProfile', () => {
  it('makes boot paths absolute against the profile folder', () => {
    const p = parseProfile(
      sampleProfile({ boot: { kernel: 'k.elf', initrd: '../i.img', modules: ['m1', '/abs/m2'], cmdline: 'x' } }),
    );
    expect(resolveProfile(p, '/profiles/lab')).toEqual({
      name: 'demo',
      platform: 'kvm',
      cpus: 2,
      memoryMiB: 128,
      irqchip: 'kernel',
      boot: { kind: 'auto', kernel: '/profiles/lab/k.elf', initrd: '/profiles/i.img', modules: ['/profiles/lab/m1', '/abs/m2'], cmdline: 'x' },
      devices: p.devices,
    });
  });

  it('omits absent optional boot files', () => {
    const c = resolveProfile(parseProfile(sampleProfile()), '/p');
    expect(Object.keys(c.boot).sort()).toEqual(['cmdline', 'kernel', 'kind']);
  });

  it('carries the platform, xen-hvm included', () => {
    expect(resolveProfile(parseProfile(sampleProfile({ platform: 'xen-hvm' })), '/p').platform).toBe('xen-hvm');
    expect(resolveProfile(parseProfile(sampleProfile()), '/p').platform).toBe('kvm');
  });
});

describe('assertBootFiles', () => {
  it('passes when files exist and explains missing ones', () =>
    withTempDir(async (dir) => {
      await writeFile(join(dir, 'k.elf'), '');
      const ok = resolveProfile(parseProfile(sampleProfile({ boot: { kernel: 'k.elf' } })), dir);
      await expect(assertBootFiles(ok)).resolves.toBeUndefined();
      const missing = resolveProfile(parseProfile(sampleProfile({ boot: { kernel: 'k.elf', initrd: 'i' } })), dir);
      await expect(assertBootFiles(missing)).rejects.toThrow(`profile "demo": i not found at ${join(dir, 'i')}; fix the path in the profile`);
      const lab = resolveProfile(parseProfile(sampleProfile({ boot: { kernel: 'guests/out/x.elf' } })), dir);
      await expect(assertBootFiles(lab)).rejects.toThrow('build the lab guests with `npm run build:guests`');
    }));
});
