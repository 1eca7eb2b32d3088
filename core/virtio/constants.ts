// Virtio 1.x constants shared by device models and the vhost-user code: reserved feature
// bits (virtio spec 1.2 §6 "Reserved Feature Bits") and split-virtqueue layout values
// (§2.7 "Split Virtqueues"). Device-specific bits live with their device (blk.ts).

/** §6: the driver may use indirect descriptors (VIRTIO_F_INDIRECT_DESC). */
export const VIRTIO_F_INDIRECT_DESC = 28;
/** §6: used_event / avail_event notification suppression (VIRTIO_F_EVENT_IDX). */
export const VIRTIO_F_EVENT_IDX = 29;
/** §6: virtio 1.x (non-legacy) device. */
export const VIRTIO_F_VERSION_1 = 32;

/** §2.7.5 struct virtq_desc: addr u64, len u32, flags u16, next u16. */
export const VIRTQ_DESC_SIZE = 16;
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** §2.7.6 avail.flags: the driver does not want interrupts. */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** §2.7.8 used.flags: the device does not want kicks. */
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** §2.7.8 struct virtq_used_elem: id u32, len u32. */
export const VIRTQ_USED_ELEM_SIZE = 8;
/** §2.7: queue size is a power of two, at most 32768. */
export const VIRTQ_MAX_SIZE = 32768;

/** Ring part sizes for a queue of `size` entries (event-idx fields included). */
export const descTableSize = (size: number): number => VIRTQ_DESC_SIZE * size;
export const availRingSize = (size: number): number => 6 + 2 * size;
export const usedRingSize = (size: number): number => 6 + VIRTQ_USED_ELEM_SIZE * size;
