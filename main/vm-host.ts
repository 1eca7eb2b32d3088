// Entry of a VM host utility process (Electron utilityProcess.fork; built as
// out/main/vm-host.js). One process per VM, so a crashing VMM takes down one VM, not the UI.
// The machine is imported at run time from the tsc build (out/node, which the CLI and
// browser mode run too), not bundled: the core starts its vCPU workers from files beside
// its own modules.
import type { HostPort } from '../core/service/host-session.js';
import { serveHost } from '../core/service/host-session.js';

interface ParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

const parent = (process as { parentPort?: ParentPort }).parentPort;
if (!parent) {
  console.error('vm-host: not started as an Electron utility process; run VMs with `npm start` or `vmm run`');
  process.exit(2);
}
const port: HostPort = {
  onMessage: (listener) => parent.on('message', ({ data }) => listener(data)),
  post: (message) => parent.postMessage(message),
};

try {
  // From out/main/vm-host.js; a computed specifier keeps the bundler from inlining it.
  const runtime = new URL('../node/core/service/host-runtime.js', import.meta.url).href;
  const { serveVmHost } = (await import(runtime)) as typeof import('../core/service/host-runtime.js');
  serveVmHost(port);
} catch (cause) {
  console.error('vm-host: cannot load the VMM core', cause);
  const notBuilt = new Error('the VMM core is not built (out/node is missing or stale); run `npm run build:node`, then start the VM again');
  serveHost(port, () => Promise.reject(notBuilt), () => {
    throw notBuilt;
  });
}
