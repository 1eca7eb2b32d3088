/* virtio-blk (virtio 1.1 §5.2): read a sector, write a pattern, flush, read back, restore. */
#include "virtio.h"

#define BLK_F_RO 5
#define BLK_F_FLUSH 9
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
struct blk_req { u32 type, reserved; u64 sector; };

static char cname[48];
static const char *chk(const char *name, const char *c) {
    lab_snprintf(cname, sizeof(cname), "%s.%s", name, c);
    return cname;
}

/* One request; returns the status byte, or 0xff on a transport failure (already reported). */
static u8 request(struct virtio_dev *v, const char *check, u32 type, u64 sector, void *data) {
    static struct blk_req *hdr;
    static u8 *st;
    if (!hdr) hdr = virtio_alloc(sizeof(*hdr)), st = virtio_alloc(1);
    *hdr = (struct blk_req){type, 0, sector};
    *st = 0xee;
    struct virtq_buf b[3] = {{hdr, sizeof(*hdr), false}, {data, 512, type == T_IN}, {st, 1, true}};
    struct virtq_buf f[2] = {{hdr, sizeof(*hdr), false}, {st, 1, true}};
    u32 len = 0;
    bool ok = data ? virtq_call(v, 0, b, 3, &len, check) : virtq_call(v, 0, f, 2, &len, check);
    if (!ok) return 0xff;
    return *st;
}

/* A read with the queue's MSI-X entry masked: no interrupt, PBA bit set; unmask: one. */
static void masked_read(struct virtio_dev *v, const char *name, u64 sector, void *buf) {
    struct virtq *q = &v->q[0];
    static struct blk_req *hdr;
    static u8 *st;
    if (!hdr) hdr = virtio_alloc(sizeof(*hdr)), st = virtio_alloc(1);
    *hdr = (struct blk_req){T_IN, 0, sector};
    struct virtq_buf b[3] = {{hdr, sizeof(*hdr), false}, {buf, 512, true}, {st, 1, true}};
    u32 before = virtq_irqs(v, 0), len;
    msix_mask(&v->msix, q->msix_vector, true);
    virtq_submit(v, 0, b, 3);
    bool used = virtq_wait(v, 0, &len, 3000);
    lab_mdelay(20);
    u32 early = virtq_irqs(v, 0) - before;
    bool pend = msix_pending(&v->msix, q->msix_vector);
    msix_mask(&v->msix, q->msix_vector, false);
    LAB_WAIT(virtq_irqs(v, 0) != before, 1000);
    lab_mdelay(20);
    u32 got = virtq_irqs(v, 0) - before;
    lab_check(used && !early && pend && got == 1 && !msix_pending(&v->msix, q->msix_vector),
              chk(name, "msix-mask-pending"), "request %s, %u interrupts while masked, PBA %s, %u "
              "after unmask (want 1)", used ? "done" : "not done", early, pend ? "set" : "clear", got);
}

void virtio_blk_test(struct virtio_dev *v, const char *name, u64 sector) {
    u64 cap = mmio_read32(v->device_cfg) | (u64)mmio_read32(v->device_cfg + 4) << 32;
    lab_info("%s: capacity %lu sectors, testing sector %lu", name, cap, sector);
    if (!lab_check(sector < cap, chk(name, "capacity"), "sector %lu beyond capacity %lu", sector, cap))
        return;
    u8 *orig = virtio_alloc(512), *pat = virtio_alloc(512), *back = virtio_alloc(512);
    u8 s = request(v, chk(name, "read"), T_IN, sector, orig);
    if (s == 0xff) return;
    if (!lab_check(s == 0, chk(name, "read"), "status %u", s)) return;
    if (v->features >> BLK_F_RO & 1) {
        lab_info("%s: device is read-only (VIRTIO_BLK_F_RO): write checks skipped", name);
        return;
    }
    lab_snprintf((char *)pat, 64, "LAB-VIRTIO-BLK sector %lu", sector);
    for (u32 i = 64; i < 512; i++) pat[i] = (u8)(i * 7 + sector + orig[i]);
    s = request(v, chk(name, "write"), T_OUT, sector, pat);
    if (s == 0xff || !lab_check(s == 0, chk(name, "write"), "status %u", s)) return;
    if (v->features >> BLK_F_FLUSH & 1) {
        s = request(v, chk(name, "flush"), T_FLUSH, 0, 0);
        if (s == 0xff || !lab_check(s == 0, chk(name, "flush"), "status %u", s)) return;
    } else {
        lab_info("%s: no VIRTIO_BLK_F_FLUSH offered: flush skipped", name);
    }
    s = request(v, chk(name, "readback"), T_IN, sector, back);
    if (s == 0xff) return;
    u32 diff = 0;
    while (diff < 512 && back[diff] == pat[diff]) diff++;
    lab_check(s == 0 && diff == 512, chk(name, "readback"), "status %u, first difference at byte %u", s, diff);
    masked_read(v, name, sector, back);
    if (lab_cmdline_u64("blk_restore", 1)) {
        s = request(v, chk(name, "restore"), T_OUT, sector, orig);
        if (s != 0xff) lab_check(s == 0, chk(name, "restore"), "status %u", s);
        if (v->features >> BLK_F_FLUSH & 1) request(v, chk(name, "restore"), T_FLUSH, 0, 0);
    }
    lab_printf("LAB-COUNT virtio-blk queue=0 requests=%u handled=%u\n", v->q[0].last_used,
               virtq_irqs(v, 0));
}

/* Random 4 KiB reads at queue depth 1 for `ms` milliseconds: the IOPS benchmark's workload,
 * run the same way in our VMM and in QEMU. Each read waits for its MSI-X interrupt. */
void virtio_blk_iops(struct virtio_dev *v, const char *name, u32 ms) {
    u64 cap = mmio_read32(v->device_cfg) | (u64)mmio_read32(v->device_cfg + 4) << 32;
    if (cap < 16) {
        lab_fail(chk(name, "iops"), "disk too small (%lu sectors)", cap);
        return;
    }
    static struct blk_req *hdr;
    static u8 *st, *buf;
    if (!hdr) hdr = virtio_alloc(sizeof(*hdr)), st = virtio_alloc(1), buf = virtio_alloc(4096);
    u64 blocks = cap / 8, seed = 0x9e3779b97f4a7c15ull, n = 0, t0 = lab_now_us(), el = 0;
    do {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        *hdr = (struct blk_req){T_IN, 0, ((seed >> 33) % blocks) * 8};
        *st = 0xee;
        struct virtq_buf b[3] = {{hdr, sizeof(*hdr), false}, {buf, 4096, true}, {st, 1, true}};
        u32 len = 0;
        if (!virtq_call(v, 0, b, 3, &len, chk(name, "iops")) || *st != 0) {
            lab_fail(chk(name, "iops"), "read %lu failed (status %u)", n, *st);
            return;
        }
        n++;
        el = lab_now_us() - t0;
    } while (el < (u64)ms * 1000);
    lab_printf("LAB-IOPS virtio-blk qd=1 bs=4096 reads=%lu us=%lu iops=%lu\n", n, el, n * 1000000 / el);
    lab_pass(chk(name, "iops"));
}
