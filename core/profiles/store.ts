// Profile files on disk: load (parse + validate), atomic save, directory listing, and
// resolution into the MachineConfig the machine is built from. Paths inside a profile are
// relative to the profile file's directory, so a profile folder can be moved as a whole.
import { access, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { MachineConfig } from '../machine/config.js';
import { ProfileError } from './errors.js';
import { locateJsonError } from './json-error.js';
import { parseProfile, type Profile, type ProfileInput } from './schema.js';

export type ProfileListing =
  | { ok: true; file: string; profile: Profile }
  | { ok: false; file: string; error: ProfileError };

export async function loadProfile(path: string): Promise<Profile> {
  const label = basename(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ProfileError(`profile ${label}: cannot read ${path} (${codeOf(cause)})`, { file: path, cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    const at = locateJsonError(text);
    const where = at ? ` at line ${at.line}, column ${at.column}: ${at.reason}` : `: ${(cause as Error).message}`;
    throw new ProfileError(`profile ${label}: invalid JSON${where}`, { file: path, cause });
  }
  try {
    return parseProfile(data, label);
  } catch (e) {
    if (e instanceof ProfileError) throw new ProfileError(e.message, { file: path, issues: e.issues, cause: e.cause });
    throw e;
  }
}

/**
 * Validate, then write atomically: a temp file in the same directory is written, fsynced
 * and renamed over the target, so readers see the old profile or the new one, never half.
 */
export async function saveProfile(path: string, profile: Profile | ProfileInput): Promise<void> {
  const label = basename(path);
  const valid = parseProfile(profile, label);
  const text = `${JSON.stringify(valid, null, 2)}\n`;
  const dir = dirname(path);
  try {
    await writeFileAtomic(path, text, { syncDir: true });
  } catch (cause) {
    throw new ProfileError(`profile ${label}: cannot save to ${dir} (${codeOf(cause)}); check that the folder exists and is writable`, {
      file: path,
      cause,
    });
  }
}

/** Every `*.json` file in `dir`, sorted by file name; invalid files are listed with their error. */
export async function listProfiles(dir: string): Promise<ProfileListing[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    if (codeOf(cause) === 'ENOENT') return [];
    throw new ProfileError(`cannot list profiles in ${dir} (${codeOf(cause)})`, { file: dir, cause });
  }
  const files = names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  return Promise.all(
    files.map(async (name): Promise<ProfileListing> => {
      const file = join(dir, name);
      try {
        return { ok: true, file, profile: await loadProfile(file) };
      } catch (e) {
        if (e instanceof ProfileError) return { ok: false, file, error: e };
        throw e;
      }
    }),
  );
}

/** Turn a validated profile into a MachineConfig, making file paths absolute against `profileDir`. */
export function resolveProfile(profile: Profile, profileDir: string): MachineConfig {
  const abs = (p: string) => resolve(profileDir, p);
  const { boot } = profile;
  return {
    name: profile.name,
    platform: profile.platform,
    cpus: profile.cpus,
    memoryMiB: profile.memoryMiB,
    irqchip: profile.irqchip,
    ...(profile.gsiRouteLimit !== undefined && { gsiRouteLimit: profile.gsiRouteLimit }),
    boot: {
      kind: boot.kind,
      kernel: abs(boot.kernel),
      ...(boot.initrd !== undefined && { initrd: abs(boot.initrd) }),
      ...(boot.modules !== undefined && { modules: boot.modules.map(abs) }),
      cmdline: boot.cmdline,
    },
    devices: profile.devices.map((d) =>
      d.type === 'virtio-blk'
        ? { ...d, ...(d.image !== undefined && { image: abs(d.image) }), ...(d.socket !== undefined && { socket: abs(d.socket) }) }
        : { ...d },
    ),
  };
}

/** Check the boot files exist before a VM host is started, with a message that says what to do. */
export async function assertBootFiles(config: MachineConfig): Promise<void> {
  const { boot } = config;
  const files = [boot.kernel, ...(boot.initrd ? [boot.initrd] : []), ...(boot.modules ?? [])];
  for (const file of files) {
    try {
      await access(file);
    } catch (cause) {
      const hint = /[/\\]guests[/\\]out[/\\]/.test(file)
        ? 'build the lab guests with `npm run build:guests`'
        : 'fix the path in the profile';
      throw new ProfileError(`profile "${config.name}": ${basename(file)} not found at ${file}; ${hint}`, { file, cause });
    }
  }
}


function codeOf(e: unknown): string {
  return (e as { code?: string } | null)?.code ?? (e as Error)?.message ?? String(e);
}
