// vhost-user-rng device process: serves virtio-rng (random bytes from the host's CSPRNG) to
// one vhost-user front-end over a unix socket. Usage:
//   node devices/vhost-user-rng.js --socket PATH
// The VMM starts and supervises it; SIGTERM/SIGINT exit 0. Exit 1 with one line on stderr
// for a bad command line or a socket that cannot be bound.
import { parseArgs } from 'node:util';
import { VhostUserRngDevice } from '../core/vhost/rng-device.js';
import { VhostUserServer } from '../core/vhost/server.js';

const NAME = 'vhost-user-rng';

function fail(msg: string): never {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

let socket: string | undefined;
try {
  ({ socket } = parseArgs({ options: { socket: { type: 'string' } }, strict: true }).values);
} catch (e) {
  fail(`${(e as Error).message}\nusage: ${NAME} --socket PATH`);
}
if (!socket) fail(`--socket is required\nusage: ${NAME} --socket PATH`);
let server: VhostUserServer;
try {
  server = new VhostUserServer(socket, new VhostUserRngDevice());
} catch (e) {
  fail(`${(e as Error).message}: ${((e as Error).cause as Error | undefined)?.message ?? ''}`);
}
const stop = (): void => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
