// The profile library behind the UI: built-in Interrupt Lab profiles (read-only) and the
// user's profile files in one folder. Saves are validated by the core schema and written
// atomically; a rename writes the new file before removing the old one, so a profile is
// never lost. Files the user broke by hand are reported, never rewritten or deleted here.
import { readFile, unlink, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProfileDocument, ProfileList, ProfileSummary } from '../api/contract.js';
import { loadCatalog, type Catalog, type CatalogEntry } from '../profiles/catalog.js';
import { demoProfile } from '../profiles/demo.js';
import { ProfileError } from '../profiles/errors.js';
import { parseProfile, type Profile, type ProfileInput } from '../profiles/schema.js';
import { saveProfile } from '../profiles/store.js';
import { packageRoot } from '../paths.js';
import { summarize } from './summary.js';

const FILE_STEM_MAX = 48;

/** A file name stem from a profile name: lowercase ASCII letters, digits and dashes. */
export function fileStem(name: string): string {
  const stem = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, FILE_STEM_MAX)
    .replace(/-+$/, '');
  return stem || 'profile';
}

const taken = (name: string, why: string) =>
  new ProfileError(`the name "${name}" ${why}; choose another name`, { issues: [{ path: 'name', message: why }] });

export class ProfileLibrary {
  constructor(private readonly dir: () => string) {}

  get folder(): string {
    return this.dir();
  }

  async list(): Promise<ProfileList> {
    const catalog = await loadCatalog(this.dir());
    return {
      profiles: catalog.entries.map(summarize),
      broken: catalog.broken.map((b) => ({ file: b.file, error: b.error.message })),
    };
  }

  async catalog(): Promise<Catalog> {
    return loadCatalog(this.dir());
  }

  async entry(name: string): Promise<CatalogEntry> {
    const entry = (await this.catalog()).entries.find((e) => e.profile.name === name);
    if (!entry) throw new ProfileError(`no profile named "${name}"; pick one from the library`);
    return entry;
  }

  /** The profile as its file holds it (defaults may be absent), for the editor. */
  async get(name: string): Promise<ProfileDocument> {
    const entry = await this.entry(name);
    if (entry.source === 'builtin' || !entry.file) return { profile: entry.profile, source: 'builtin' };
    let profile: ProfileInput = entry.profile;
    try {
      profile = JSON.parse(await readFile(entry.file, 'utf8')) as ProfileInput;
    } catch {
      // Changed since the catalog read it; the validated copy is what we have.
    }
    return { profile, source: 'user', file: entry.file };
  }

  demo(): ProfileSummary {
    return summarize({ profile: demoProfile(), dir: packageRoot(), source: 'builtin' });
  }

  /** Create (no previousName) or update/rename a user profile. */
  async save(input: unknown, previousName?: string): Promise<ProfileSummary> {
    const profile = parseProfile(input);
    const catalog = await this.catalog();
    const byName = (n: string) => catalog.entries.find((e) => e.profile.name === n);
    const existing = byName(profile.name);
    let previous: CatalogEntry | undefined;
    if (previousName !== undefined) {
      previous = byName(previousName);
      if (!previous) throw new ProfileError(`no profile named "${previousName}"; it may have been renamed or deleted`);
      if (previous.source === 'builtin' || !previous.file) {
        throw new ProfileError(`"${previousName}" is a built-in profile and cannot be changed; duplicate it to edit a copy`);
      }
    }
    if (existing && existing !== previous) {
      throw taken(profile.name, existing.source === 'builtin' ? 'belongs to a built-in profile' : 'is already taken');
    }
    const file = previous?.file && previous.profile.name === profile.name ? previous.file : await this.freshFile(profile.name);
    await this.write(file, profile);
    if (previous?.file && previous.file !== file) await unlink(previous.file).catch(() => undefined);
    return summarize({ profile, dir: this.dir(), source: 'user', file });
  }

  async duplicate(name: string, newName: string): Promise<ProfileSummary> {
    const source = await this.entry(name);
    // Paths of a user profile stay relative to the same folder; built-in ones are absolute.
    return this.save({ ...source.profile, name: newName });
  }

  async delete(name: string): Promise<void> {
    const entry = await this.entry(name);
    if (entry.source === 'builtin' || !entry.file) {
      throw new ProfileError(`"${name}" is a built-in profile and cannot be deleted`);
    }
    try {
      await unlink(entry.file);
    } catch (cause) {
      throw new ProfileError(`cannot delete ${entry.file} (${(cause as NodeJS.ErrnoException).code ?? cause}); check the folder's permissions`, {
        file: entry.file,
        cause,
      });
    }
  }

  /** A name no profile uses yet: "base", then "base (2)", "base (3)", ... */
  async uniqueName(base: string): Promise<string> {
    const names = new Set((await this.catalog()).entries.map((e) => e.profile.name));
    const stem = base.slice(0, 58);
    if (!names.has(stem)) return stem;
    for (let i = 2; ; i++) if (!names.has(`${stem} (${i})`)) return `${stem} (${i})`;
  }

  /** A file name in the folder that no file (valid, broken or hidden) uses. */
  private async freshFile(name: string): Promise<string> {
    const dir = this.dir();
    await mkdir(dir, { recursive: true });
    const present = new Set((await readdir(dir)).map((f) => f.toLowerCase()));
    const stem = fileStem(name);
    for (let i = 1; ; i++) {
      const file = i === 1 ? `${stem}.json` : `${stem}-${i}.json`;
      if (!present.has(file)) return join(dir, file);
    }
  }

  private async write(file: string, profile: Profile): Promise<void> {
    await mkdir(this.dir(), { recursive: true });
    await saveProfile(file, profile);
  }
}
