/* MSI (PCI Local Bus 3.0 §6.8.1): 32/64-bit address, multiple messages, per-vector masking. */
#include "pci.h"

#define MSI_CTRL 2
#define MSI_ENABLE 1u
#define MSI_MASKABLE (1u << 8)
#define MSI_64 (1u << 7)

static u16 ctrl(const struct msi *m) { return pci_read16(m->d, (u16)(m->cap + MSI_CTRL)); }
static u16 data_off(const struct msi *m) { return (u16)(m->cap + (m->is64 ? 0xc : 0x8)); }
static u16 mask_off(const struct msi *m) { return (u16)(m->cap + (m->is64 ? 0x10 : 0xc)); }

bool msi_init(struct msi *m, struct pci_dev *d) {
    *m = (struct msi){.d = d};
    m->cap = pci_find_cap(d, PCI_CAP_MSI, 0);
    if (!m->cap) return false;
    u16 c = ctrl(m);
    m->is64 = c & MSI_64;
    m->maskable = c & MSI_MASKABLE;
    u32 mmc = (c >> 1) & 7;
    m->capable = 1u << (mmc > 5 ? 5 : mmc);
    return true;
}

bool msi_setup(struct msi *m, u32 apic_id, u8 base_vector, u32 n) {
    u32 log2 = 0;
    while ((1u << log2) < n) log2++;
    if ((1u << log2) != n || n > m->capable || (base_vector & (n - 1))) return false;
    pci_write32(m->d, (u16)(m->cap + 4), msi_address(apic_id));
    if (m->is64) pci_write32(m->d, (u16)(m->cap + 8), 0);
    pci_write16(m->d, data_off(m), base_vector); /* fixed, edge */
    u16 c = ctrl(m);
    c = (u16)((c & ~(7u << 4)) | (log2 << 4));
    pci_write16(m->d, (u16)(m->cap + MSI_CTRL), c);
    m->enabled = n;
    return true;
}

void msi_enable(struct msi *m, bool on) {
    u16 c = ctrl(m);
    pci_write16(m->d, (u16)(m->cap + MSI_CTRL), on ? (c | MSI_ENABLE) : (c & ~MSI_ENABLE));
}
void msi_mask(struct msi *m, u32 i, bool masked) {
    u32 b = pci_read32(m->d, mask_off(m));
    pci_write32(m->d, mask_off(m), masked ? (b | (1u << i)) : (b & ~(1u << i)));
}
u32 msi_mask_bits(const struct msi *m) { return m->maskable ? pci_read32(m->d, mask_off(m)) : 0; }
u32 msi_pending_bits(const struct msi *m) {
    return m->maskable ? pci_read32(m->d, (u16)(mask_off(m) + 4)) : 0;
}
