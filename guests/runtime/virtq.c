/* Split virtqueues (virtio 1.1 §2.6): one request chain at a time from descriptor 0. */
#include "virtio.h"

u16 virtq_submit(struct virtio_dev *v, u32 qi, const struct virtq_buf *bufs, u32 n) {
    struct virtq *q = &v->q[qi];
    for (u32 i = 0; i < n; i++) {
        q->desc[i].addr = (u64)(uintptr_t)bufs[i].addr;
        q->desc[i].len = bufs[i].len;
        q->desc[i].flags = (u16)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
                                 (bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0));
        q->desc[i].next = (u16)(i + 1);
    }
    q->avail->ring[q->avail_idx % q->size] = 0;
    barrier(); /* x86 keeps stores in order; the compiler must too */
    q->avail_idx++;
    q->avail->idx = q->avail_idx;
    __asm__ volatile("mfence" ::: "memory");
    mmio_write16(q->notify, q->index);
    return 0;
}

bool virtq_wait(struct virtio_dev *v, u32 qi, u32 *len, u32 timeout_ms) {
    struct virtq *q = &v->q[qi];
    if (!LAB_WAIT(q->used->idx != q->last_used, timeout_ms)) return false;
    barrier();
    volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
    if (len) *len = e->len;
    q->last_used++;
    return true;
}

u32 virtq_irqs(const struct virtio_dev *v, u32 qi) { return irqc_total(v->q[qi].src); }

bool virtq_call(struct virtio_dev *v, u32 qi, const struct virtq_buf *bufs, u32 n, u32 *len,
                const char *check) {
    u32 before = virtq_irqs(v, qi);
    virtq_submit(v, qi, bufs, n);
    if (!virtq_wait(v, qi, len, 3000)) {
        lab_fail(check, "queue %u: no used buffer within 3 s", qi);
        return false;
    }
    if (!LAB_WAIT(virtq_irqs(v, qi) != before, 1000)) {
        lab_fail(check, "queue %u: buffer used but no MSI-X interrupt on entry %u within 1 s", qi,
                 v->q[qi].msix_vector);
        return false;
    }
    return true;
}
