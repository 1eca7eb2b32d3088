/* virtio modern PCI transport (virtio 1.1 §4.1.4): capabilities, status, features, MSI-X. */
#include "virtio.h"

/* common configuration structure (§4.1.4.3) */
#define CC_DFSEL 0x00
#define CC_DF 0x04
#define CC_GFSEL 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30
#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_FAILED 128
#define NO_VECTOR 0xffff

static u8 arena[256 * 1024] __attribute__((aligned(4096)));
static u32 arena_used;
void *virtio_alloc(u32 bytes) {
    u32 n = (bytes + 4095) & ~4095u;
    if (arena_used + n > sizeof(arena)) return 0;
    void *p = arena + arena_used;
    arena_used += n;
    memset(p, 0, n);
    return p;
}

u32 virtio_pci_type(const struct pci_dev *d) {
    if (d->vendor != VIRTIO_VENDOR) return 0;
    if (d->device >= 0x1041 && d->device <= 0x107f) return d->device - 0x1040u;
    if (d->device >= 0x1000 && d->device <= 0x103f) /* transitional: subsystem ID */
        return pci_read16(d, 0x2e);
    return 0;
}

static bool find_caps(struct virtio_dev *v) {
    for (u8 c = pci_find_cap(v->pci, PCI_CAP_VENDOR, 0); c; c = pci_find_cap(v->pci, PCI_CAP_VENDOR, c)) {
        u8 type = pci_read8(v->pci, (u16)(c + 3)), bar = pci_read8(v->pci, (u16)(c + 4));
        u32 off = pci_read32(v->pci, (u16)(c + 8)), len = pci_read32(v->pci, (u16)(c + 12));
        if (bar > 5 || !v->pci->bar[bar] || (v->pci->bar_flags[bar] & PCI_BAR_IO)) continue;
        u64 a = v->pci->bar[bar] + off;
        u64 *slot = type == 1 ? &v->common : type == 2 ? &v->notify_base : type == 3 ? &v->isr
                  : type == 4 ? &v->device_cfg : 0;
        if (!slot || *slot) continue; /* first of each type wins (§4.1.4) */
        *slot = a;
        lab_map_mmio(a, len ? len : 1);
        if (type == 2) v->notify_mult = pci_read32(v->pci, (u16)(c + 16));
    }
    return v->common && v->notify_base && v->isr;
}

static u8 status(struct virtio_dev *v) { return mmio_read8(v->common + CC_STATUS); }
static void set_status(struct virtio_dev *v, u8 s) { mmio_write8(v->common + CC_STATUS, s); }

static bool negotiate(struct virtio_dev *v, const char *name, u64 wanted) {
    set_status(v, 0);
    if (!LAB_WAIT(status(v) == 0, 1000)) return lab_fail(name, "device reset did not complete"), false;
    set_status(v, S_ACK);
    set_status(v, S_ACK | S_DRIVER);
    for (u32 sel = 0; sel < 2; sel++) {
        mmio_write32(v->common + CC_DFSEL, sel);
        v->device_features |= (u64)mmio_read32(v->common + CC_DF) << (32 * sel);
    }
    if (!(v->device_features >> VIRTIO_F_VERSION_1 & 1))
        return lab_fail(name, "device does not offer VIRTIO_F_VERSION_1 (features 0x%lx)", v->device_features), false;
    v->features = v->device_features & (wanted | (1ull << VIRTIO_F_VERSION_1));
    for (u32 sel = 0; sel < 2; sel++) {
        mmio_write32(v->common + CC_GFSEL, sel);
        mmio_write32(v->common + CC_GF, (u32)(v->features >> (32 * sel)));
    }
    set_status(v, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(status(v) & S_FEATURES_OK))
        return lab_fail(name, "device cleared FEATURES_OK (features 0x%lx)", v->features), false;
    return true;
}

static bool setup_msix(struct virtio_dev *v, const char *name, u32 nq) {
    if (!msix_init(&v->msix, v->pci)) return lab_fail(name, "no usable MSI-X capability"), false;
    if (v->msix.size < nq + 1) /* as Linux does: queues share the last entry */
        lab_info("%s: MSI-X table has %u entries for %u queues + config: sharing entry %u", name,
                 v->msix.size, nq, v->msix.size - 1);
    u32 bsp = lapic_id();
    for (u32 i = 0; i <= nq && i < v->msix.size; i++) {
        u8 vec = irqc_pool_vector(v->src_base + i);
        irqc_bind(vec, v->src_base + i, 0);
        msix_set(&v->msix, i, bsp, vec);
        msix_mask(&v->msix, i, false);
    }
    msix_function_mask(&v->msix, false);
    msix_enable(&v->msix, true);
    mmio_write16(v->common + CC_MSIX_CONFIG, 0);
    if (mmio_read16(v->common + CC_MSIX_CONFIG) != 0)
        return lab_fail(name, "msix_config vector 0 not accepted"), false;
    return true;
}

static bool setup_queue(struct virtio_dev *v, const char *name, u32 qi) {
    struct virtq *q = &v->q[qi];
    mmio_write16(v->common + CC_Q_SELECT, (u16)qi);
    u16 max = mmio_read16(v->common + CC_Q_SIZE);
    if (!max) return lab_fail(name, "queue %u not available", qi), false;
    q->index = (u16)qi;
    q->size = max < VIRTQ_MAX ? max : VIRTQ_MAX;
    q->size = (u16)(1u << (31 - __builtin_clz(q->size))); /* power of two for split queues */
    q->desc = virtio_alloc(sizeof(struct virtq_desc) * VIRTQ_MAX);
    q->avail = virtio_alloc(sizeof(struct virtq_avail));
    q->used = virtio_alloc(sizeof(struct virtq_used));
    if (!q->desc || !q->avail || !q->used) return lab_fail(name, "out of queue memory"), false;
    u32 entry = 1 + qi < v->msix.size ? 1 + qi : v->msix.size - 1;
    q->msix_vector = (u16)entry;
    q->src = v->src_base + entry;
    mmio_write16(v->common + CC_Q_SIZE, q->size);
    mmio_write16(v->common + CC_Q_MSIX, q->msix_vector);
    if (mmio_read16(v->common + CC_Q_MSIX) != q->msix_vector)
        return lab_fail(name, "queue %u: MSI-X vector %u not accepted", qi, q->msix_vector), false;
    u64 d = (u64)(uintptr_t)q->desc, a = (u64)(uintptr_t)q->avail, u = (u64)(uintptr_t)q->used;
    mmio_write32(v->common + CC_Q_DESC, (u32)d);
    mmio_write32(v->common + CC_Q_DESC + 4, (u32)(d >> 32));
    mmio_write32(v->common + CC_Q_DRIVER, (u32)a);
    mmio_write32(v->common + CC_Q_DRIVER + 4, (u32)(a >> 32));
    mmio_write32(v->common + CC_Q_DEVICE, (u32)u);
    mmio_write32(v->common + CC_Q_DEVICE + 4, (u32)(u >> 32));
    u16 noff = mmio_read16(v->common + CC_Q_NOTIFY_OFF);
    q->notify = v->notify_base + (u64)noff * v->notify_mult;
    mmio_write16(v->common + CC_Q_ENABLE, 1);
    return true;
}

bool virtio_start(struct virtio_dev *v, struct pci_dev *d, const char *name, u64 wanted, u32 nq,
                  u32 src_base) {
    *v = (struct virtio_dev){.pci = d, .device_id = virtio_pci_type(d), .src_base = src_base, .nq = nq};
    pci_enable(d, true);
    if (!find_caps(v)) return lab_fail(name, "common/notify/isr capabilities not found"), false;
    if (!negotiate(v, name, wanted)) return false;
    u16 nqs = mmio_read16(v->common + CC_NUM_QUEUES);
    if (nqs < nq) return lab_fail(name, "device has %u queues, need %u", nqs, nq), false;
    if (!setup_msix(v, name, nq)) return false;
    for (u32 i = 0; i < nq; i++)
        if (!setup_queue(v, name, i)) return false;
    set_status(v, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    if (status(v) & S_FAILED) return lab_fail(name, "device status FAILED after DRIVER_OK"), false;
    lab_info("%s: 00:%02x.%u features 0x%lx (offered 0x%lx), %u queue(s) of %u, MSI-X %u entries "
             "(table BAR%u+0x%x, PBA BAR%u+0x%x)",
             name, d->slot, d->fn, v->features, v->device_features, nq, v->q[0].size, v->msix.size,
             v->msix.table_bir, v->msix.table_off, v->msix.pba_bir, v->msix.pba_off);
    return true;
}
