// irq-lab device process: the Interrupt Lab's test device (docs/irq-lab.md), started and
// supervised by the VMM (core/irq-lab/device-link.ts). Usage:
//   node devices/irq-lab.js [--fd N]
// It talks to the VMM over the connected AF_UNIX stream socket it inherits as fd N
// (default 3): per-vector eventfds, the INTx trigger/resample eventfds and the guest-RAM
// memfd arrive there with SCM_RIGHTS, then raise/ack/stats commands (core/irq-lab/
// protocol.ts); it answers with READY_ACK, STATS/VECTOR_COUNTS and CREDIT (flow control).
// The model itself is core/irq-lab/backend.ts.
// Exit status: 0 after SIGTERM/SIGINT or when the VMM closes the connection; 2 when the
// VMM sent something malformed (one line on stderr says what); 1 for a bad command line.
import { parseArgs } from 'node:util';
import { nativeKvm } from '../core/kvm/addon.js';
import { fdWatcher } from '../core/irq/fd-watcher.js';
import { BackendMemory } from '../core/vhost/backend-memory.js';
import { VhostChannel, VhostDisconnectError, safeClose } from '../core/vhost/channel.js';
import { nativeUnix } from '../core/vhost/native.js';
import { IrqLabBackend, type BackendOps } from '../core/irq-lab/backend.js';
import { COUNTS_PER_MESSAGE, Reply, decodeCommand, encodeCredit, encodeStats, encodeVectorCounts } from '../core/irq-lab/protocol.js';

const NAME = 'irq-lab';
const DEFAULT_FD = 3;
const EXIT_BAD_PEER = 2;

function fail(msg: string, status = 1): never {
  process.stderr.write(`${NAME}: ${msg}\n`);
  process.exit(status);
}

/** `beforeEvent` runs before each resample notification (see pump() in core/vhost/channel.ts). */
function nativeOps(beforeEvent: () => void): BackendOps {
  const n = nativeKvm();
  const one = new BigUint64Array([1n]);
  const watcher = fdWatcher();
  return {
    signal(fd) {
      try {
        return n.write(fd, one) === 8;
      } catch {
        return false;
      }
    },
    close: (fd) => safeClose(nativeUnix(), fd),
    now: () => Number(process.hrtime.bigint()),
    watch: (fd, cb) =>
      watcher.watch(fd, (count) => {
        beforeEvent(); // commands the VMM sent before the guest's EOI (ACK_INTX, INTX=0) come first
        cb(count);
      }),
    unwatch: (fd) => void watcher.unwatch(fd),
    mapMemory: (regions, fds) => BackendMemory.map(regions, fds),
    defer: (fn) => void setImmediate(fn),
  };
}

function main(): void {
  let fd = DEFAULT_FD;
  try {
    const { values } = parseArgs({ options: { fd: { type: 'string' } }, strict: true });
    if (values.fd !== undefined) fd = Number(values.fd);
  } catch (e) {
    fail(`${(e as Error).message}\nusage: ${NAME} [--fd N]`);
  }
  if (!Number.isInteger(fd) || fd < 3) fail(`--fd must be an inherited descriptor >= 3`);

  let channel: VhostChannel | undefined;
  const backend = new IrqLabBackend(nativeOps(() => channel?.pump()), {
    readyAck: (version) => channel?.send(Reply.READY_ACK, 0, new Uint8Array(new Uint32Array([version]).buffer)),
    stats: (s, counts) => {
      channel?.send(Reply.STATS, 0, encodeStats(s));
      for (let first = 0; first < s.vectors; first += COUNTS_PER_MESSAGE) {
        const part = Array.from(counts.subarray(first, Math.min(s.vectors, first + COUNTS_PER_MESSAGE)), (c) => c >>> 0);
        channel?.send(Reply.VECTOR_COUNTS, 0, encodeVectorCounts({ token: s.token, first, counts: part }));
      }
    },
    credit: (c) => channel?.send(Reply.CREDIT, 0, encodeCredit(c)),
  });
  let stopping = false;
  const stop = (status: number, why?: string): void => {
    if (stopping) return;
    stopping = true;
    if (why) process.stderr.write(`${NAME}: ${why}\n`);
    backend.close();
    channel?.close();
    process.exit(status);
  };
  try {
    channel = new VhostChannel(fd, {
      onMessage: (m) => {
        let cmd;
        try {
          cmd = decodeCommand(m.request, m.payload, m.fds);
        } catch (e) {
          for (const f of m.fds) safeClose(nativeUnix(), f);
          throw e;
        }
        backend.handle(cmd);
      },
      onClose: (reason) => {
        if (stopping) return;
        if (!reason || reason instanceof VhostDisconnectError) stop(0, reason ? 'the VMM closed the connection' : undefined);
        else stop(EXIT_BAD_PEER, `closing the connection: ${reason.message}`);
      },
    }, NAME);
  } catch (e) {
    fail(`fd ${fd} is not a usable socket: ${(e as Error).message}`);
  }
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
}

main();
