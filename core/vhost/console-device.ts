// virtio-console (virtio 1.1 §5.3) as a vhost-user device with one port and no
// multiport: queue 0 (receiveq) carries host input to the driver, queue 1 (transmitq)
// carries what the driver writes. Output goes to the `output` callback as it arrives;
// input is buffered (bounded) until the driver makes receive buffers available.
import type { DescChain } from '../virtio/virtqueue.js';
import type { BackendQueue, VhostUserDevice } from './backend.js';
import { TRANSPORT_FEATURES } from './blk-device.js';

export const CONSOLE_RX_QUEUE = 0;
export const CONSOLE_TX_QUEUE = 1;
/** §5.3.4 struct virtio_console_config: cols u16, rows u16, max_nr_ports u32, emerg_wr u32. */
export const CONSOLE_CONFIG_SIZE = 12;
/** Host input kept while the driver has no receive buffers; the rest is dropped and counted. */
export const CONSOLE_INPUT_LIMIT = 1 << 20;
/** Bytes taken from one transmit chain at most. */
const MAX_TX_CHAIN = 1 << 20;

export class VhostUserConsoleDevice implements VhostUserDevice {
  readonly name = 'vhost-user-console';
  readonly numQueues = 2;
  private rx: BackendQueue | undefined;
  private input: Uint8Array[] = [];
  private inputBytes = 0;
  readonly stats = { txBytes: 0, rxBytes: 0, inputDropped: 0 };

  constructor(private readonly output: (bytes: Uint8Array) => void) {}

  features(): bigint {
    return TRANSPORT_FEATURES; // no F_SIZE, F_MULTIPORT or F_EMERG_WRITE
  }

  config(): Uint8Array {
    const b = new Uint8Array(CONSOLE_CONFIG_SIZE);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 80, true);
    dv.setUint16(2, 25, true);
    dv.setUint32(4, 1, true);
    return b;
  }

  /** Bytes from the host side for the driver. */
  receive(bytes: Uint8Array): void {
    const room = CONSOLE_INPUT_LIMIT - this.inputBytes;
    if (bytes.length > room) this.stats.inputDropped += bytes.length - Math.max(room, 0);
    const take = bytes.subarray(0, Math.max(room, 0));
    if (take.length > 0) {
      this.input.push(take.slice());
      this.inputBytes += take.length;
    }
    this.deliver();
  }

  processQueue(q: BackendQueue): void {
    if (q.index === CONSOLE_RX_QUEUE) {
      this.rx = q;
      this.deliver();
      return;
    }
    for (;;) {
      const chain = pop(q);
      if (!chain) return;
      q.begin();
      let taken = 0;
      for (const b of chain.readable) {
        const part = b.subarray(0, MAX_TX_CHAIN - taken);
        if (part.length > 0) this.output(part.slice());
        taken += part.length;
      }
      this.stats.txBytes += taken;
      q.complete(chain.head, 0);
    }
  }

  private deliver(): void {
    const q = this.rx;
    while (q && !q.stopped && this.inputBytes > 0) {
      const chain = pop(q);
      if (!chain) return;
      q.begin();
      let written = 0;
      for (const buf of chain.writable) {
        let o = 0;
        while (o < buf.length && this.input.length > 0) {
          const head = this.input[0]!;
          const n = Math.min(head.length, buf.length - o);
          buf.set(head.subarray(0, n), o);
          o += n;
          if (n === head.length) this.input.shift();
          else this.input[0] = head.subarray(n);
        }
        written += o;
      }
      this.inputBytes -= written;
      this.stats.rxBytes += written;
      q.complete(chain.head, written);
    }
  }
}

function pop(q: BackendQueue): DescChain | null {
  try {
    return q.vq.pop();
  } catch (e) {
    q.fail(e);
    return null;
  }
}
