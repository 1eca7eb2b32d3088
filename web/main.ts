// `npm run web` (via scripts/web.mjs): the app service with Node child-process VM hosts,
// behind the browser bridge. Prints the page URL (with its token) once, opens a browser
// unless --no-open, and stops every VM before exiting on SIGINT/SIGTERM.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../core/paths.js';
import { nodeForkHost } from '../core/service/fork-node.js';
import { AppService } from '../core/service/service.js';
import { defaultConfigDir } from '../core/service/settings.js';
import { startWebServer } from './server.js';

export interface WebArgs {
  port: number;
  open: boolean;
}

export function parseWebArgs(argv: string[]): WebArgs {
  const args: WebArgs = { port: 0, open: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-open') args.open = false;
    else if (a === '--port' || a.startsWith('--port=')) {
      const v = a.includes('=') ? a.slice(7) : argv[++i];
      const port = Number(v);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port needs a number 0..65535, got ${v}`);
      args.port = port;
    } else throw new Error(`unknown option ${a}; use --port N and --no-open`);
  }
  return args;
}

function openBrowser(url: string): void {
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const args = parseWebArgs(argv);
  const service = await AppService.create({ configDir: defaultConfigDir(), forkHost: nodeForkHost() });
  const server = await startWebServer({
    service,
    rendererDir: join(packageRoot(), 'out', 'renderer'),
    port: args.port,
    log: (m) => console.error(`irqbench web: ${m}`),
  });
  console.log(`irqbench is running in browser mode: ${server.url}`);
  console.log('Open that URL (it holds the access token); press Ctrl+C to stop.');
  if (args.open) openBrowser(server.url);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`irqbench web: ${signal}: stopping the VMs…`);
    void service
      .shutdown()
      .then(() => server.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
