// Where a device process's entry point is and how to run it: from source (vitest, tsx) the
// devices/*.ts file through tsx; compiled (out/node) the devices/*.js file next to the
// compiled core. The VMM passes the result to DeviceProcess.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../paths.js';

export interface DeviceCommand {
  command: string;
  args: string[];
  /** Inside Electron, process.execPath is the Electron binary: ELECTRON_RUN_AS_NODE makes it Node. */
  env: NodeJS.ProcessEnv;
}

/** Command line for devices/<name> (e.g. "vhost-user-blk"), followed by `args`. */
export function deviceCommand(name: string, args: string[] = []): DeviceCommand {
  const here = fileURLToPath(import.meta.url);
  const env = process.versions.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : process.env;
  if (here.endsWith('.ts')) return { command: process.execPath, args: ['--import', 'tsx', join(packageRoot(), 'devices', `${name}.ts`), ...args], env };
  return { command: process.execPath, args: [join(dirname(here), '..', '..', 'devices', `${name}.js`), ...args], env };
}
