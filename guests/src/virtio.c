/* virtio: find virtio-blk, virtio-rng and virtio-console (modern PCI, MSI-X) on bus 0 and
 * test each one found; a missing device is a LAB-INFO line unless require= names it. */
#include "virtio.h"

LAB_GUEST("virtio");

static bool required(const char *dev) {
    char list[64];
    if (!lab_cmdline_get("require", list, sizeof(list))) return false;
    size_t n = strlen(dev);
    for (const char *p = list; *p;) {
        const char *e = p;
        while (*e && *e != ',') e++;
        if ((size_t)(e - p) == n && !strncmp(p, dev, n)) return true;
        p = *e ? e + 1 : e;
    }
    return false;
}

static struct pci_dev *find(u32 type) {
    for (u32 i = 0; i < pci_ndevs; i++)
        if (virtio_pci_type(&pci_devs[i]) == type) return &pci_devs[i];
    return 0;
}

static struct virtio_dev blk, rng, con;

void lab_main(void) {
    pci_init(true);
    static const struct { u32 type; const char *name; } devs[] = {
        {VIRTIO_ID_BLK, "blk"}, {VIRTIO_ID_RNG, "rng"}, {VIRTIO_ID_CONSOLE, "console"}};
    for (u32 i = 0; i < 3; i++) {
        struct pci_dev *d = find(devs[i].type);
        const char *name = devs[i].name;
        if (!d) {
            if (required(name)) lab_fail(name, "no virtio-%s device on bus 0", name);
            else lab_info("virtio-%s: absent", name);
            continue;
        }
        char start[32];
        lab_snprintf(start, sizeof(start), "%s.start", name);
        if (devs[i].type == VIRTIO_ID_BLK) {
            if (!virtio_start(&blk, d, start, 1ull << 9 /* FLUSH */, 1, 0)) continue;
            lab_pass(start);
            virtio_blk_test(&blk, name, lab_cmdline_u64("blk_sector", 1));
            u32 iops_ms = (u32)lab_cmdline_u64("blk_iops_ms", 0);
            if (iops_ms) virtio_blk_iops(&blk, name, iops_ms);
        } else if (devs[i].type == VIRTIO_ID_RNG) {
            if (!virtio_start(&rng, d, start, 0, 1, 8)) continue;
            lab_pass(start);
            virtio_rng_test(&rng, name, (u32)lab_cmdline_u64("rng_bytes", 64));
        } else {
            if (!virtio_start(&con, d, start, 0, 2, 16)) continue;
            lab_pass(start);
            virtio_console_test(&con, name, (u32)lab_cmdline_u64("console_rx_ms", 0));
        }
    }
    lab_check(irqc_unbound == 0 && lab_spurious_count == 0, "no-stray-interrupts",
              "%u on unbound vectors, %u spurious", irqc_unbound, lab_spurious_count);
}
