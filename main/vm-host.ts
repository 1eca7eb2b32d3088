// Entry of a VM host utility process (Electron utilityProcess.fork; built as
// out/main/vm-host.js). One process per VM, so a crashing VMM takes down one VM, not the UI.
// The machine is imported at run time from the tsc build (out/node, which the CLI runs
// too), not bundled: the core starts its vCPU workers from files beside its own modules.
import { serveHost, type PortLike, type RunMachine } from './host-session.js';

const port = (process as { parentPort?: PortLike }).parentPort;
if (!port) {
  console.error('vm-host: not started as an Electron utility process; run VMs with `npm start` or `vmm run`');
  process.exit(2);
}

let runMachine: RunMachine;
try {
  // From out/main/vm-host.js; a computed specifier keeps the bundler from inlining it.
  const core = new URL('../node/core/machine/run.js', import.meta.url).href;
  ({ runMachine } = (await import(core)) as typeof import('../core/machine/run.js'));
} catch (cause) {
  console.error('vm-host: cannot load the VMM core', cause);
  runMachine = () =>
    Promise.reject(new Error('the VMM core is not built (out/node is missing or stale); run `npm run build:node`, then start the VM again'));
}
serveHost(port, runMachine);
