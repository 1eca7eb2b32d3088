/* MSI-X (PCI Local Bus 3.0 §6.8.2): table and PBA in BARs at offsets from the capability,
 * entry programming, per-vector and function masks, enable. */
#include "pci.h"

#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_PBA 8
#define MSIX_ENABLE (1u << 15)
#define MSIX_FMASK (1u << 14)

u32 msi_address(u32 apic_id) {
    return 0xFEE00000u | ((apic_id & 0xff) << 12) | (((apic_id >> 8) & 0x7f) << 5);
}

bool msix_init(struct msix *m, struct pci_dev *d) {
    *m = (struct msix){.d = d};
    m->cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
    if (!m->cap) return false;
    m->size = (msix_control(m) & 0x7ff) + 1;
    u32 t = pci_read32(d, (u16)(m->cap + MSIX_TABLE)), p = pci_read32(d, (u16)(m->cap + MSIX_PBA));
    m->table_bir = t & 7;
    m->pba_bir = p & 7;
    m->table_off = t & ~7u;
    m->pba_off = p & ~7u;
    if (m->table_bir > 5 || m->pba_bir > 5 || !d->bar[m->table_bir] || !d->bar[m->pba_bir]) return false;
    m->table = d->bar[m->table_bir] + m->table_off;
    m->pba = d->bar[m->pba_bir] + m->pba_off;
    lab_map_mmio(m->table, 16ull * m->size);
    lab_map_mmio(m->pba, 8ull * ((m->size + 63) / 64));
    return true;
}

u16 msix_control(const struct msix *m) { return pci_read16(m->d, (u16)(m->cap + MSIX_CTRL)); }
static void set_ctrl(struct msix *m, u16 bit, bool on) {
    u16 c = msix_control(m);
    c = on ? (c | bit) : (c & ~bit);
    pci_write16(m->d, (u16)(m->cap + MSIX_CTRL), c);
}
void msix_enable(struct msix *m, bool on) { set_ctrl(m, MSIX_ENABLE, on); }
void msix_function_mask(struct msix *m, bool masked) { set_ctrl(m, MSIX_FMASK, masked); }

static u64 entry(const struct msix *m, u32 i) { return m->table + 16ull * i; }
void msix_set(struct msix *m, u32 i, u32 apic_id, u8 vector) {
    mmio_write32(entry(m, i) + 0, msi_address(apic_id));
    mmio_write32(entry(m, i) + 4, 0);
    mmio_write32(entry(m, i) + 8, vector); /* fixed, edge */
}
void msix_mask(struct msix *m, u32 i, bool masked) {
    u32 ctl = mmio_read32(entry(m, i) + 12);
    mmio_write32(entry(m, i) + 12, masked ? (ctl | 1) : (ctl & ~1u));
}
u32 msix_entry_word(const struct msix *m, u32 i, u32 word) { return mmio_read32(entry(m, i) + 4 * word); }
bool msix_pending(const struct msix *m, u32 i) {
    return (mmio_read32(m->pba + 4ull * (i / 32)) >> (i % 32)) & 1;
}
