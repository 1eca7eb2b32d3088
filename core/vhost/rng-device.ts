// virtio-rng (virtio 1.1 §5.4) as a vhost-user device: one request queue; every chain's
// device-writable buffers are filled from crypto.getRandomValues and returned with the
// number of bytes written. Chains with no writable space are returned with 0 bytes.
import { getRandomValues } from 'node:crypto';
import type { DescChain } from '../virtio/virtqueue.js';
import type { BackendQueue, VhostUserDevice } from './backend.js';
import { TRANSPORT_FEATURES } from './blk-device.js';

/** getRandomValues fills at most 65536 bytes per call. */
const MAX_RANDOM_CHUNK = 65536;
/** Bytes served per chain at most (a hostile 4 GiB chain must not stall the process). */
export const RNG_MAX_PER_REQUEST = 1 << 20;

export class VhostUserRngDevice implements VhostUserDevice {
  readonly name = 'vhost-user-rng';
  readonly numQueues = 1;
  readonly stats = { requests: 0, bytes: 0 };

  features(): bigint {
    return TRANSPORT_FEATURES;
  }

  config(): Uint8Array {
    return new Uint8Array(0); // §5.4.4: no device configuration
  }

  processQueue(q: BackendQueue): void {
    q.forEachAvailable((chain) => q.complete(chain.head, this.fill(chain)));
  }


  private fill(chain: DescChain): number {
    let left = RNG_MAX_PER_REQUEST;
    let written = 0;
    for (const buf of chain.writable) {
      for (let o = 0; o < buf.length && left > 0; ) {
        const n = Math.min(buf.length - o, MAX_RANDOM_CHUNK, left);
        // Guest memory is a SharedArrayBuffer view, which getRandomValues refuses: fill a copy.
        const tmp = new Uint8Array(n);
        getRandomValues(tmp);
        buf.set(tmp, o);
        o += n;
        left -= n;
        written += n;
      }
    }
    this.stats.requests++;
    this.stats.bytes += written;
    return written;
  }
}
