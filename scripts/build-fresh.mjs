// Rebuild an output only when it is missing or older than its sources, so `npm start` and
// `npm run web` start fast after the first run and never serve a stale build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './electron-env.mjs';

const SKIP = new Set(['node_modules', 'out', '.git']);

/** Newest modification time (ms) of the files under `dirs` (relative to the package root). */
export function newestSource(dirs) {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (SKIP.has(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.includes('.test.')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(join(root, d));
  return newest;
}

export function isStale(output, sources) {
  const file = join(root, output);
  return !existsSync(file) || statSync(file).mtimeMs < newestSource(sources);
}

/** Run the build of `output` if stale; returns false (after saying so) if the build failed. */
export function ensureBuilt(output, sources, cmd, args, say) {
  if (!isStale(output, sources)) return true;
  say(`${output} is missing or older than its sources; building it (${cmd} ${args.join(' ')})`);
  const build = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root });
  if (build.status === 0) return true;
  // tsc still writes its output on type errors; running that beats not running at all.
  if (existsSync(join(root, output))) {
    say(`the build reported errors (above); continuing with ${output} as built`);
    return true;
  }
  say('the build failed; fix the errors above and try again');
  return false;
}
