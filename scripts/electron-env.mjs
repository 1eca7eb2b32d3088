// Can the desktop app run here? Finds the Electron binary without requiring the electron
// package (its index.js starts a download when the binary is missing) and checks for a
// display. Used by `npm start` and the gated Electron end-to-end suite.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Electron executable, or why there is none. This mirrors the `electron` package's
 * index.js (path.txt + dist/, or ELECTRON_OVERRIDE_DIST_PATH).
 */
export function findElectron(env = process.env) {
  let pkgDir;
  try {
    pkgDir = dirname(createRequire(join(root, 'package.json')).resolve('electron/package.json'));
  } catch {
    return { reason: 'the electron package is not installed (run `npm install`)' };
  }
  const pathTxt = join(pkgDir, 'path.txt');
  const exeName = existsSync(pathTxt) ? readFileSync(pathTxt, 'utf8').trim() : undefined;
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const exe = join(env.ELECTRON_OVERRIDE_DIST_PATH, exeName || 'electron');
    return existsSync(exe) ? { exe } : { reason: `ELECTRON_OVERRIDE_DIST_PATH has no Electron binary (${exe})` };
  }
  if (!exeName) return { reason: "no Electron binary on this machine (npm's electron package installed without it)" };
  const exe = join(pkgDir, 'dist', exeName);
  return existsSync(exe) ? { exe } : { reason: `the Electron binary is missing (${exe})` };
}

export function hasDisplay(env = process.env, platform = process.platform) {
  return platform !== 'linux' || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}
