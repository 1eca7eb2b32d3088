// vhost-user-console device process: a one-port virtio-console for one vhost-user front-end.
// Usage:
//   node devices/vhost-user-console.js --socket PATH --port PATH
// --port is a unix stream socket this process listens on for the host side of the console
// (the VMM connects and logs the output; anything written to it is guest input; one client
// at a time). Output produced while no client is connected is kept (the last 64 KiB).
// SIGTERM/SIGINT exit 0; exit 1 with one line on stderr for a bad command line.
import { createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { VhostUserConsoleDevice } from '../core/vhost/console-device.js';
import { VhostUserServer } from '../core/vhost/server.js';

const NAME = 'vhost-user-console';
const BACKLOG_LIMIT = 64 * 1024;
const USAGE = `usage: ${NAME} --socket PATH --port PATH`;

function fail(msg: string): never {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

let values: { socket?: string; port?: string } = {};
try {
  ({ values } = parseArgs({ options: { socket: { type: 'string' }, port: { type: 'string' } }, strict: true }));
} catch (e) {
  fail(`${(e as Error).message}\n${USAGE}`);
}
const { socket, port } = values;
if (!socket || !port) fail(`--socket and --port are required\n${USAGE}`);

let client: Socket | undefined;
let backlog: Buffer[] = [];
let backlogBytes = 0;
const device = new VhostUserConsoleDevice((bytes) => {
  if (client) {
    client.write(bytes);
    return;
  }
  backlog.push(Buffer.from(bytes));
  backlogBytes += bytes.length;
  while (backlogBytes > BACKLOG_LIMIT && backlog.length > 1) backlogBytes -= backlog.shift()!.length;
});

rmSync(port, { force: true });
const host = createServer((s) => {
  if (client) {
    s.destroy();
    return;
  }
  client = s;
  for (const b of backlog) s.write(b);
  backlog = [];
  backlogBytes = 0;
  s.on('data', (d: Buffer) => device.receive(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  s.on('close', () => {
    if (client === s) client = undefined;
  });
  s.on('error', () => undefined);
});
host.on('error', (e) => fail(`${port}: ${e.message}`));
host.listen(port);

let server: VhostUserServer;
try {
  server = new VhostUserServer(socket, device);
} catch (e) {
  fail(`${(e as Error).message}: ${((e as Error).cause as Error | undefined)?.message ?? ''}`);
}
const stop = (): void => {
  server.close();
  host.close();
  rmSync(port, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
