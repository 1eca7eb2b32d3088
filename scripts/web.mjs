#!/usr/bin/env node
// `npm run web [-- --port N] [--no-open]`: browser mode. Builds what it serves when missing
// or stale (the renderer with electron-vite, the service with tsc), then runs the server
// (out/node/web/entry.js), which prints the page URL with its access token once.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt } from './build-fresh.mjs';
import { root } from './electron-env.mjs';

const say = (line) => console.error(`irqbench: ${line}`);

/** Build if needed, then serve; resolves with the server's exit status. */
export async function runWeb(args = process.argv.slice(2)) {
  const builds = [
    ['out/renderer/index.html', ['renderer', 'core/api', 'main/csp.ts', 'electron.vite.config.ts'], 'npx', ['electron-vite', 'build']],
    ['out/node/web/entry.js', ['core', 'web', 'devices', 'main', 'preload'], 'npx', ['tsc', '-p', 'tsconfig.node.json']],
  ];
  for (const [output, sources, cmd, cmdArgs] of builds) {
    if (!ensureBuilt(output, sources, cmd, cmdArgs, say)) return 1;
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'out/node/web/entry.js'), ...args], { stdio: 'inherit', cwd: root });
    // The server stops its VMs on these; pass them on and wait for it.
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
    child.on('error', (e) => {
      say(`cannot run the web server: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runWeb();
}
