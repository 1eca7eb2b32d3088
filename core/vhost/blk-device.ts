// virtio-blk as a vhost-user device: glues the transport-free BlkDisk (core/virtio/blk.ts)
// to a BackendQueue. On each kick, pops every available chain and serves them
// concurrently; each completion is pushed to the used ring as soon as its I/O is done
// (so completions may be out of order, which virtio allows).
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../virtio/constants.js';
import type { BlkDisk } from '../virtio/blk.js';
import type { DescChain } from '../virtio/virtqueue.js';
import type { BackendQueue, VhostUserDevice } from './backend.js';
import { bit } from './protocol.js';

/** Transport features we implement for every device. */
export const TRANSPORT_FEATURES = bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_INDIRECT_DESC) | bit(VIRTIO_F_EVENT_IDX);

export class VhostUserBlkDevice implements VhostUserDevice {
  readonly name = 'vhost-user-blk';
  readonly numQueues = 1;

  constructor(readonly disk: BlkDisk) {}

  features(): bigint {
    return this.disk.features() | TRANSPORT_FEATURES;
  }

  config(): Uint8Array {
    return this.disk.config();
  }

  processQueue(q: BackendQueue): void {
    q.forEachAvailable((chain) => void this.serve(q, chain));
  }


  private async serve(q: BackendQueue, chain: DescChain): Promise<void> {
    let written = 0;
    try {
      written = await this.disk.handle(chain);
    } catch (e) {
      q.fail(e);
    }
    q.complete(chain.head, written);
  }
}
