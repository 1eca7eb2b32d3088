// Entry of a VM host as a Node child process (browser mode and tests):
// child_process.fork(out/node/core/service/host-node.js, { serialization: 'advanced' }), so
// Uint8Arrays cross the channel intact. Electron uses main/vm-host.ts instead.
import { serveVmHost } from './host-runtime.js';

if (!process.send) {
  console.error('vm-host: not started by the irqbench service; run VMs with `npm start`, `npm run web` or `vmm run`');
  process.exit(2);
}
const send = process.send.bind(process);
serveVmHost({
  onMessage: (listener) => process.on('message', listener),
  post: (message) => void send(message as Parameters<typeof send>[0]),
});
// The service is gone (crashed or killed): nobody can stop or see this VM any more.
process.on('disconnect', () => process.exit(0));
