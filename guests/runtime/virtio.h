/* Minimal virtio 1.x driver over the modern PCI transport (virtio 1.1 §4.1): vendor
 * capabilities, feature negotiation, split virtqueues with one MSI-X vector per queue plus a
 * config vector, and small drivers for virtio-blk, virtio-rng and virtio-console. */
#ifndef LAB_VIRTIO_H
#define LAB_VIRTIO_H
#include "pci.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_ID_BLK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_MAX_QUEUES 4
#define VIRTQ_MAX 64

struct virtq_desc { u64 addr; u32 len; u16 flags, next; };
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
struct virtq_avail { u16 flags, idx, ring[VIRTQ_MAX], used_event; };
struct virtq_used_elem { u32 id, len; };
struct virtq_used { u16 flags, idx; struct virtq_used_elem ring[VIRTQ_MAX]; u16 avail_event; };

struct virtq {
    u16 index, size, avail_idx, last_used;
    u16 msix_vector;            /* MSI-X table entry (0xffff: none) */
    u32 src;                    /* irqc source counting this queue's interrupts */
    u64 notify;                 /* doorbell address */
    volatile struct virtq_desc *desc;
    volatile struct virtq_avail *avail;
    volatile struct virtq_used *used;
};
struct virtq_buf { void *addr; u32 len; bool device_writes; };

struct virtio_dev {
    struct pci_dev *pci;
    u32 device_id;              /* virtio device type (2 blk, 3 console, 4 rng) */
    struct msix msix;
    u64 common, notify_base, isr, device_cfg;
    u32 notify_mult;
    u64 device_features, features;
    u32 src_base;               /* irqc sources: src_base = config, src_base + 1 + q = queue q */
    u32 nq;
    struct virtq q[VIRTIO_MAX_QUEUES];
};

/* Virtio device type of a PCI function (0 if it is not a virtio device). */
u32 virtio_pci_type(const struct pci_dev *d);
/* Find the capabilities, reset, negotiate VERSION_1 | wanted (the device must offer
 * VERSION_1), set up MSI-X (entry 0: config, entry 1 + q: queue q, or the last entry when the
 * table is smaller; all to the BSP, IDT vectors irqc_pool_vector(src_base + entry)), then set up nq queues and DRIVER_OK. Reports LAB-FAIL lines
 * prefixed with `name` and returns false on any failure. */
bool virtio_start(struct virtio_dev *v, struct pci_dev *d, const char *name, u64 wanted, u32 nq,
                  u32 src_base);
/* Put a chain on the queue and ring the doorbell; returns the head descriptor. */
u16 virtq_submit(struct virtio_dev *v, u32 q, const struct virtq_buf *bufs, u32 n);
/* Wait for the next used element; returns false on timeout. *len gets the written length. */
bool virtq_wait(struct virtio_dev *v, u32 q, u32 *len, u32 timeout_ms);
/* Submit, wait for the used element and for the queue's MSI-X interrupt; a failure is
 * reported as LAB-FAIL <check> and returns false. */
bool virtq_call(struct virtio_dev *v, u32 q, const struct virtq_buf *bufs, u32 n, u32 *len,
                const char *check);
u32 virtq_irqs(const struct virtio_dev *v, u32 q);
void *virtio_alloc(u32 bytes); /* page-aligned, zeroed, never freed */

/* Device drivers (runtime/virtio_{blk,rng,console}.c): each runs its checks on a started
 * device and reports LAB-PASS/LAB-FAIL lines named <name>.<check>. */
void virtio_blk_test(struct virtio_dev *v, const char *name, u64 sector);
void virtio_blk_iops(struct virtio_dev *v, const char *name, u32 ms);
void virtio_rng_test(struct virtio_dev *v, const char *name, u32 bytes);
void virtio_console_test(struct virtio_dev *v, const char *name, u32 rx_timeout_ms);

#endif
