// vhost-user-blk device process: serves a raw disk image to one vhost-user front-end (our
// VMM or QEMU) over a unix socket. Usage:
//   node devices/vhost-user-blk.js --socket PATH --image FILE [--readonly] [--serial ID]
// The VMM starts and supervises this process; guest memory comes in by fd with
// SET_MEM_TABLE, kicks and interrupts travel on eventfds. SIGTERM/SIGINT flush the image
// and exit 0. Exit 1 with one line on stderr for a bad command line or an image that
// cannot be opened (the line names the file). Integrity guarantees: see core/virtio/blk.ts.
import { parseArgs } from 'node:util';
import { BlkDisk } from '../core/virtio/blk.js';
import { VhostUserBlkDevice } from '../core/vhost/blk-device.js';
import { VhostUserServer } from '../core/vhost/server.js';

const NAME = 'vhost-user-blk';

function fail(msg: string): never {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let values: { socket?: string; image?: string; readonly?: boolean; serial?: string };
  try {
    ({ values } = parseArgs({
      options: { socket: { type: 'string' }, image: { type: 'string' }, readonly: { type: 'boolean' }, serial: { type: 'string' } },
      strict: true,
    }));
  } catch (e) {
    fail(`${(e as Error).message}\nusage: ${NAME} --socket PATH --image FILE [--readonly] [--serial ID]`);
  }
  if (!values.socket || !values.image) fail(`--socket and --image are required\nusage: ${NAME} --socket PATH --image FILE [--readonly] [--serial ID]`);
  let disk: BlkDisk;
  try {
    disk = await BlkDisk.open(values.image, { readonly: values.readonly ?? false, serial: values.serial ?? NAME });
  } catch (e) {
    fail((e as Error).message);
  }
  let server: VhostUserServer;
  try {
    server = new VhostUserServer(values.socket, new VhostUserBlkDevice(disk));
  } catch (e) {
    fail(`${(e as Error).message}: ${((e as Error).cause as Error | undefined)?.message ?? ''}`);
  }
  process.stderr.write(`${NAME}: serving ${values.image} (${disk.capacity} sectors${disk.readonly ? ', read-only' : ''}) on ${values.socket}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close();
    disk.close().then(
      () => process.exit(0),
      (e: unknown) => fail(`closing ${values.image}: ${(e as Error).message}`),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
