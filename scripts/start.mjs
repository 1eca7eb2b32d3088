#!/usr/bin/env node
// `npm start`: open the desktop app when Electron can run here, otherwise run the demo VM
// in the terminal with the CLI. Either way it says which and why, and exits with the
// status of what it ran.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => console.error(`irqbench: ${line}`);

/**
 * The Electron executable, or why there is none. This mirrors the `electron` package's
 * index.js (path.txt + dist/, or ELECTRON_OVERRIDE_DIST_PATH) without requiring it: its
 * index.js starts a network download when the binary is missing.
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

/** Run a command with inherited stdio; resolve with its exit status (signals count as failure). */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', cwd: root });
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
    child.on('error', (e) => {
      say(`cannot run ${cmd}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (constants.signals[signal] ?? 0)));
  });
}

async function main() {
  const electron = findElectron();
  const display = hasDisplay();
  if (electron.exe && display) {
    // The app is the electron-vite bundle plus the compiled core its VM hosts import.
    const builds = [
      ['out/main/index.js', 'npx', ['electron-vite', 'build']],
      ['out/node/core/machine/run.js', 'npm', ['run', 'build:node']],
    ];
    for (const [output, cmd, args] of builds) {
      if (existsSync(join(root, output))) continue;
      say(`${output} is missing; building it (${cmd} ${args.join(' ')})`);
      const build = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
      if (build.status !== 0) {
        say('the build failed; fix the errors above and run `npm start` again');
        return build.status ?? 1;
      }
    }
    if (process.getuid?.() === 0 && !process.argv.includes('--no-sandbox')) {
      say('running as root: Chromium refuses to start without `npm start -- --no-sandbox`');
    }
    return run(electron.exe, [root, ...process.argv.slice(2)]);
  }
  const why = electron.exe ? 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)' : electron.reason;
  say(`${why}; running the demo VM in the terminal instead.`);
  const cli = join(root, 'bin/vmm.js');
  if (!existsSync(cli)) {
    say('bin/vmm.js is missing, so there is nothing to run; reinstall irqbench');
    return 1;
  }
  return run(process.execPath, [cli, 'run', '--demo']);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
