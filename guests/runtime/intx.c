/* PCI INTx routing: the MP table's PCI I/O interrupt entries (MP spec 1.4 §4.3.4: source bus
 * IRQ = slot << 2 | pin, pin 0 = INTA#) when present, else the VMM's default swizzle
 * line = (slot + pin - 1) % 4 -> GSI 16 + line, level-triggered, active-high. */
#include "pci.h"

static bool mp_is_pci_bus(const u8 *cfg, u32 count, u8 bus_id) {
    const u8 *e = cfg + 44;
    for (u32 i = 0; i < count; i++) {
        if (e[0] == 1 && e[1] == bus_id) return !memcmp(e + 2, "PCI", 3);
        e += e[0] == 0 ? 20 : 8;
    }
    return false;
}

/* Returns true and fills gsi/flags when the MP table has an entry for bus 0 slot/pin. */
static bool mp_lookup(u8 slot, u8 pin, u32 *gsi, u16 *flags) {
    if (!lab_acpi.mp_found || !lab_acpi.mp_checksum_ok) return false;
    u32 cfg_addr = *(const u32 *)(uintptr_t)(lab_acpi.mp_addr + 4);
    if (!cfg_addr) return false;
    const u8 *cfg = (const u8 *)(uintptr_t)cfg_addr;
    if (memcmp(cfg, "PCMP", 4)) return false;
    u32 count = *(const u16 *)(cfg + 34);
    const u8 *e = cfg + 44;
    for (u32 i = 0; i < count; i++) {
        if (e[0] > 4) return false;
        if (e[0] == 3 && mp_is_pci_bus(cfg, count, e[4]) && e[5] == ((slot << 2) | (pin - 1))) {
            u8 ioapic_id = e[6], intin = e[7];
            for (u32 k = 0; k < lab_acpi.nioapics; k++)
                if (lab_acpi.ioapics[k].id == ioapic_id) {
                    *gsi = lab_acpi.ioapics[k].gsi_base + intin;
                    *flags = *(const u16 *)(e + 2);
                    return true;
                }
        }
        e += e[0] == 0 ? 20 : 8;
    }
    return false;
}

bool pci_intx_route(const struct pci_dev *d, struct pci_intx *r) {
    *r = (struct pci_intx){.pin = d->int_pin};
    if (d->int_pin < 1 || d->int_pin > 4) return false;
    r->line = (d->slot + d->int_pin - 1u) % 4;
    r->gsi = 16 + r->line;
    r->level = true;
    u16 flags = 0;
    if (mp_lookup(d->slot, d->int_pin, &r->mp_gsi, &flags)) {
        r->mp_entry = r->from_mp = true;
        r->gsi = r->mp_gsi;
        /* 0 = conforms to the bus: PCI is level-triggered, active-low */
        r->active_low = (flags & 3) != 1;
        r->level = ((flags >> 2) & 3) != 1;
    }
    return ioapic_for_gsi(r->gsi, &r->ioapic_base, &r->ioapic_pin);
}

void pci_intx_program(const struct pci_intx *r, u8 vector, u32 dest_apic, bool masked) {
    u64 rte = vector | ((u64)dest_apic << 56);
    if (r->level) rte |= RTE_LEVEL;
    if (r->active_low) rte |= RTE_ACTIVE_LOW;
    if (masked) rte |= RTE_MASKED;
    ioapic_write_rte(r->ioapic_base, r->ioapic_pin, rte);
}
