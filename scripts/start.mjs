#!/usr/bin/env node
// `npm start`: open the desktop app when Electron can run here, otherwise say why in one
// line and serve the same UI in browser mode (`npm run web`), printing its URL. The
// terminal-only demo stays available as `vmm run --demo`.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ensureBuilt } from './build-fresh.mjs';
import { findElectron, hasDisplay, root } from './electron-env.mjs';
import { runWeb } from './web.mjs';

export { findElectron, hasDisplay };

const say = (line) => console.error(`irqbench: ${line}`);

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

/** 'electron' with the binary, or 'web' with the one-line reason. */
export function chooseMode(env = process.env, platform = process.platform) {
  const electron = findElectron(env);
  if (!electron.exe) return { mode: 'web', reason: electron.reason };
  if (!hasDisplay(env, platform)) return { mode: 'web', reason: 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)' };
  return { mode: 'electron', exe: electron.exe };
}

async function main() {
  const choice = chooseMode();
  if (choice.mode === 'web') {
    say(`${choice.reason}; serving the app in browser mode instead (the terminal demo is \`vmm run --demo\`).`);
    return runWeb(process.argv.slice(2));
  }
  // The app is the electron-vite bundle plus the compiled core its VM hosts import.
  const builds = [
    ['out/main/index.js', ['main', 'preload', 'renderer', 'core/api', 'core/service', 'electron.vite.config.ts'], 'npx', ['electron-vite', 'build']],
    ['out/node/core/service/host-runtime.js', ['core', 'devices'], 'npx', ['tsc', '-p', 'tsconfig.node.json']],
  ];
  for (const [output, sources, cmd, args] of builds) {
    if (!ensureBuilt(output, sources, cmd, args, say)) return 1;
  }
  if (process.getuid?.() === 0 && !process.argv.includes('--no-sandbox')) {
    say('running as root: Chromium refuses to start without `npm start -- --no-sandbox`');
  }
  return run(choice.exe, [root, ...process.argv.slice(2)]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
