// ForkHost for Node (browser mode, tests): one child process per VM running the compiled
// host entry (out/node/core/service/host-node.js), with the 'advanced' serialization so
// binary console data and statistics cross as structured clones, not JSON.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { VmmError } from '../errors.js';
import type { ServiceToHost } from './host-protocol.js';
import type { ForkHost, HostHandle } from './supervisor.js';

export const hostEntry = (): string => join(packageRoot(), 'out', 'node', 'core', 'service', 'host-node.js');

export function nodeForkHost(entry = hostEntry()): ForkHost {
  return (vmName) => {
    if (!existsSync(entry)) throw new VmmError(`the VM host is not built (${entry} is missing); run \`npm run build:node\``);
    const child = fork(entry, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, IRQBENCH_VM: vmName },
    });
    const handle: HostHandle = {
      postMessage: (message: ServiceToHost) => {
        if (child.connected) child.send(message);
      },
      on: (event: 'message' | 'exit', listener: (arg: unknown) => void) =>
        event === 'message' ? child.on('message', listener) : child.on('exit', (code, signal) => listener(code ?? (signal ? -1 : null))),
      kill: () => child.kill('SIGTERM'),
    } as HostHandle;
    child.on('error', (e) => {
      console.error(`irqbench: VM host for ${vmName}: ${e.message}`);
      // A process that never started may not emit 'exit'; report it as one so the VM fails.
      if (child.pid === undefined) child.emit('exit', null, null);
    });
    return handle;
  };
}
