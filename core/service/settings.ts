// App settings (the profiles folder), persisted as JSON in the app's config directory:
// Electron's userData, or $XDG_CONFIG_HOME/irqbench (~/.config/irqbench) in browser mode.
// A missing or unreadable file means defaults (profiles in <config>/profiles, or
// $IRQBENCH_PROFILES_DIR); a write is atomic (temp file + rename).
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Settings } from '../api/contract.js';
import { SettingsSchema } from '../api/schemas.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { SettingsError } from './errors.js';

export const SETTINGS_FILE = 'settings.json';

/** The config directory browser mode uses (Electron's userData is the same on Linux). */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'irqbench');
}

/** Profiles live beside the settings unless IRQBENCH_PROFILES_DIR (absolute) says otherwise. */
export function defaultSettings(configDir: string, env: NodeJS.ProcessEnv = process.env): Settings {
  const fromEnv = env.IRQBENCH_PROFILES_DIR;
  return { profilesDir: fromEnv && isAbsolute(fromEnv) ? fromEnv : join(configDir, 'profiles') };
}

export class SettingsStore {
  private current: Settings;
  private readonly file: string;

  constructor(
    configDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.file = join(configDir, SETTINGS_FILE);
    this.current = defaultSettings(configDir, env);
  }

  /** Read the saved settings; anything invalid falls back to the default for that field. */
  async load(log: (m: string) => void = () => undefined): Promise<Settings> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return this.current;
    }
    try {
      const parsed = SettingsSchema.safeParse(JSON.parse(text));
      if (parsed.success && isAbsolute(parsed.data.profilesDir)) this.current = parsed.data;
      else log(`${this.file} is invalid; using the default settings`);
    } catch {
      log(`${this.file} is not JSON; using the default settings`);
    }
    return this.current;
  }

  get(): Settings {
    return { ...this.current };
  }

  async set(next: Settings): Promise<Settings> {
    if (!isAbsolute(next.profilesDir)) {
      throw new SettingsError(`the profiles folder must be an absolute path, got "${next.profilesDir}"`);
    }
    const profilesDir = resolve(next.profilesDir);
    try {
      await mkdir(profilesDir, { recursive: true });
    } catch (cause) {
      throw new SettingsError(`cannot use ${profilesDir} as the profiles folder (${(cause as NodeJS.ErrnoException).code ?? cause}); pick a folder you can write to`, { cause });
    }
    const settings: Settings = { profilesDir };
    await this.write(settings);
    this.current = settings;
    return this.get();
  }

  private async write(settings: Settings): Promise<void> {
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, `${JSON.stringify(settings, null, 2)}\n`);
    } catch (cause) {
      throw new SettingsError(`cannot save the settings to ${this.file} (${(cause as NodeJS.ErrnoException).code ?? cause})`, { cause });
    }
  }

}
