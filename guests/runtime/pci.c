/* PCI bus 0: enumeration through CF8/CFC or ECAM (MCFG), config accessors, BARs as assigned
 * by the firmware (or the VMM acting as firmware), capability walks, decode enables. */
#include "pci.h"

struct pci_dev pci_devs[PCI_MAX_DEVS];
u32 pci_ndevs;
u64 pci_ecam_base;
static bool pci_done;

static u64 ecam(const struct pci_dev *d, u16 off) {
    return pci_ecam_base + ((u64)d->bus << 20) + ((u64)d->slot << 15) + ((u64)d->fn << 12) + off;
}
u32 pci_read32(const struct pci_dev *d, u16 off) {
    if (pci_ecam_base) return mmio_read32(ecam(d, off & 0xffc));
    return pci_cfg_read32(d->bus, d->slot, d->fn, (u8)off);
}
u16 pci_read16(const struct pci_dev *d, u16 off) {
    if (pci_ecam_base) return mmio_read16(ecam(d, off & 0xffe));
    return pci_cfg_read16(d->bus, d->slot, d->fn, (u8)off);
}
u8 pci_read8(const struct pci_dev *d, u16 off) {
    if (pci_ecam_base) return mmio_read8(ecam(d, off));
    return pci_cfg_read8(d->bus, d->slot, d->fn, (u8)off);
}
void pci_write32(const struct pci_dev *d, u16 off, u32 v) {
    if (pci_ecam_base) mmio_write32(ecam(d, off & 0xffc), v);
    else pci_cfg_write32(d->bus, d->slot, d->fn, (u8)off, v);
}
void pci_write16(const struct pci_dev *d, u16 off, u16 v) {
    if (pci_ecam_base) mmio_write16(ecam(d, off & 0xffe), v);
    else pci_cfg_write16(d->bus, d->slot, d->fn, (u8)off, v);
}
void pci_write8(const struct pci_dev *d, u16 off, u8 v) {
    if (pci_ecam_base) mmio_write8(ecam(d, off), v);
    else pci_cfg_write8(d->bus, d->slot, d->fn, (u8)off, v);
}

/* MCFG: 36-byte header, 8 reserved, then 16-byte allocations (base, segment, start/end bus). */
static void find_ecam(void) {
    const u8 *t = acpi_find_table("MCFG");
    if (!t) return;
    u32 len = *(const u32 *)(t + 4);
    for (u32 off = 44; off + 16 <= len; off += 16) {
        u64 base = *(const u64 *)(t + off);
        u16 seg = *(const u16 *)(t + off + 8);
        u8 start = t[off + 10];
        if (seg == 0 && start == 0 && base) {
            if (lab_map_mmio(base, 1 << 20)) pci_ecam_base = base;
            return;
        }
    }
}

static void read_bars(struct pci_dev *d) {
    u32 nbars = (d->header & 0x7f) == 0 ? 6 : (d->header & 0x7f) == 1 ? 2 : 0;
    for (u32 i = 0; i < nbars; i++) {
        u32 lo = pci_read32(d, (u16)(0x10 + 4 * i));
        if (lo & 1) {
            d->bar[i] = lo & ~3u;
            d->bar_flags[i] = PCI_BAR_IO;
            continue;
        }
        d->bar[i] = lo & ~0xfu;
        d->bar_flags[i] = (lo & 8) ? PCI_BAR_PREFETCH : 0;
        if (((lo >> 1) & 3) == 2 && i + 1 < nbars) {
            d->bar[i] |= (u64)pci_read32(d, (u16)(0x10 + 4 * (i + 1))) << 32;
            d->bar_flags[i] |= PCI_BAR_64;
            i++;
        }
    }
}

static void add(u8 slot, u8 fn, bool verbose) {
    if (pci_ndevs >= PCI_MAX_DEVS) return;
    struct pci_dev *d = &pci_devs[pci_ndevs];
    *d = (struct pci_dev){.bus = 0, .slot = slot, .fn = fn};
    u32 id = pci_read32(d, 0);
    if ((id & 0xffff) == 0xffff) return;
    u32 cfg_id = pci_cfg_read32(0, slot, fn, 0);
    if (pci_ecam_base && cfg_id != id)
        lab_fail("pci.ecam-mismatch", "00:%02x.%u: ECAM reads ID 0x%08x, CF8/CFC 0x%08x", slot, fn,
                 id, cfg_id);
    d->vendor = (u16)id;
    d->device = (u16)(id >> 16);
    u32 cr = pci_read32(d, 8);
    d->revision = (u8)cr;
    d->prog_if = (u8)(cr >> 8);
    d->subclass = (u8)(cr >> 16);
    d->class_code = (u8)(cr >> 24);
    d->header = pci_read8(d, 0x0e);
    d->int_line = pci_read8(d, 0x3c);
    d->int_pin = pci_read8(d, 0x3d);
    read_bars(d);
    pci_ndevs++;
    if (verbose)
        lab_info("pci 00:%02x.%u %04x:%04x class %02x%02x%02x pin %u bar0 0x%lx bar1 0x%lx bar2 0x%lx "
                 "bar4 0x%lx",
                 slot, fn, d->vendor, d->device, d->class_code, d->subclass, d->prog_if, d->int_pin,
                 d->bar[0], d->bar[1], d->bar[2], d->bar[4]);
}

void pci_init(bool verbose) {
    if (pci_done) return;
    pci_done = true;
    find_ecam();
    if (verbose)
        lab_info("pci: config access via %s (ECAM base 0x%lx)", pci_ecam_base ? "ECAM" : "CF8/CFC",
                 pci_ecam_base);
    for (u8 slot = 0; slot < 32; slot++) {
        if ((pci_cfg_read32(0, slot, 0, 0) & 0xffff) == 0xffff) continue;
        u8 fns = (pci_cfg_read8(0, slot, 0, 0x0e) & 0x80) ? 8 : 1;
        for (u8 fn = 0; fn < fns; fn++) add(slot, fn, verbose);
    }
}

struct pci_dev *pci_find(u16 vendor, u16 device, u32 nth) {
    for (u32 i = 0; i < pci_ndevs; i++)
        if (pci_devs[i].vendor == vendor && pci_devs[i].device == device && nth-- == 0)
            return &pci_devs[i];
    return 0;
}

u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 after) {
    if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAPS)) return 0;
    u8 p = after ? pci_read8(d, (u16)(after + 1)) : pci_read8(d, 0x34);
    for (int n = 0; n < 48 && p >= 0x40; n++) {
        p &= 0xfc;
        if (pci_read8(d, p) == id) return p;
        p = pci_read8(d, (u16)(p + 1));
    }
    return 0;
}

void pci_enable(struct pci_dev *d, bool bus_master) {
    u16 cmd = pci_read16(d, PCI_CMD);
    for (u32 i = 0; i < 6; i++) {
        if (!d->bar[i]) continue;
        if (d->bar_flags[i] & PCI_BAR_IO) cmd |= PCI_CMD_IO;
        else {
            cmd |= PCI_CMD_MEM;
            lab_map_mmio(d->bar[i], 0x1000);
        }
    }
    if (bus_master) cmd |= PCI_CMD_MASTER;
    pci_write16(d, PCI_CMD, cmd);
}

void pci_intx_disable(struct pci_dev *d, bool disable) {
    u16 cmd = pci_read16(d, PCI_CMD);
    cmd = disable ? (cmd | PCI_CMD_INTX_DISABLE) : (cmd & ~PCI_CMD_INTX_DISABLE);
    pci_write16(d, PCI_CMD, cmd);
}
