// The profile library a UI shows: built-in profiles (demo + Interrupt Lab) followed by the
// user's profile files. Profiles are addressed by name, so a user file that reuses a
// built-in or an earlier name is reported as broken rather than shadowing it.
import { packageRoot } from '../paths.js';
import { demoProfile, labProfiles } from './demo.js';
import { ProfileError } from './errors.js';
import type { Profile } from './schema.js';
import { listProfiles } from './store.js';
import { dirname } from 'node:path';

export interface CatalogEntry {
  profile: Profile;
  /** Directory relative paths in the profile resolve against. */
  dir: string;
  source: 'builtin' | 'user';
  file?: string;
}

export interface Catalog {
  entries: CatalogEntry[];
  broken: { file: string; error: ProfileError }[];
}

export async function loadCatalog(userDir: string | undefined): Promise<Catalog> {
  const entries: CatalogEntry[] = [];
  const broken: Catalog['broken'] = [];
  const names = new Set<string>();
  for (const profile of [demoProfile(), ...labProfiles()]) {
    if (names.has(profile.name)) continue;
    names.add(profile.name);
    entries.push({ profile, dir: packageRoot(), source: 'builtin' });
  }
  for (const item of userDir ? await listProfiles(userDir) : []) {
    if (!item.ok) broken.push({ file: item.file, error: item.error });
    else if (names.has(item.profile.name)) {
      const error = new ProfileError(
        `profile ${item.file}: name "${item.profile.name}" is already taken; rename the profile`,
        { file: item.file, issues: [{ path: 'name', message: 'already taken' }] },
      );
      broken.push({ file: item.file, error });
    } else {
      names.add(item.profile.name);
      entries.push({ profile: item.profile, dir: dirname(item.file), source: 'user', file: item.file });
    }
  }
  return { entries, broken };
}

export function findProfile(catalog: Catalog, name: string): CatalogEntry {
  const entry = catalog.entries.find((e) => e.profile.name === name);
  if (!entry) throw new ProfileError(`no profile named "${name}"; pick one from the library`);
  return entry;
}
