/* Local APIC (xAPIC MMIO and x2APIC MSRs), IOAPIC, 8259 PIC masking and PCI config access. */
#include "lab.h"
#include "percpu.h"

/* ---- LAPIC ---------------------------------------------------------------------------------- */
static u64 lapic_base = 0xFEE00000u;

bool lapic_x2apic_mode(void) { return this_cpu()->x2apic; }
bool lapic_has_x2apic(void) {
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    return c & (1u << 21);
}
void lapic_enable_x2apic(void) {
    u64 base = rdmsr(IA32_APIC_BASE);
    wrmsr(IA32_APIC_BASE, base | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    this_cpu()->x2apic = true;
}
u32 lapic_read(u32 reg) {
    if (this_cpu()->x2apic) return (u32)rdmsr(0x800 + (reg >> 4));
    return mmio_read32(lapic_base + reg);
}
void lapic_write(u32 reg, u32 v) {
    if (this_cpu()->x2apic) wrmsr(0x800 + (reg >> 4), v);
    else mmio_write32(lapic_base + reg, v);
}
u32 lapic_id(void) {
    if (this_cpu()->x2apic) return (u32)rdmsr(0x802);
    return mmio_read32(lapic_base + LAPIC_ID) >> 24;
}
void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
bool lapic_vector_bit(u32 base_reg, u8 vector) {
    return (lapic_read(base_reg + 0x10 * (vector >> 5)) >> (vector & 31)) & 1;
}

void lapic_cpu_init(void) {
    u64 base = rdmsr(IA32_APIC_BASE);
    lapic_base = base & 0xFFFFFF000ull;
    if (!(base & APIC_BASE_ENABLE)) wrmsr(IA32_APIC_BASE, base | APIC_BASE_ENABLE);
    lapic_write(LAPIC_SVR, 0x100 | LAB_SPURIOUS_VECTOR);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED | 0xFE);
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_TPR, 0);
    this_cpu()->apic_id = lapic_id();
}

void lapic_send_ipi(u32 dest, u32 icr_low) {
    if (this_cpu()->x2apic) {
        wrmsr(0x830, ((u64)dest << 32) | icr_low);
        return;
    }
    mmio_write32(lapic_base + LAPIC_ICR_HI, dest << 24);
    mmio_write32(lapic_base + LAPIC_ICR, icr_low);
    for (u32 i = 0; i < 1000000 && (mmio_read32(lapic_base + LAPIC_ICR) & ICR_PENDING); i++)
        cpu_relax();
}
void lapic_self_ipi(u8 vector) { lapic_send_ipi(0, ICR_DEST_SELF | ICR_FIXED | vector); }

/* ---- IOAPIC --------------------------------------------------------------------------------- */
static volatile u32 ioapic_lock_word;
static void ioapic_lock(u64 *flags) {
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(*flags)::"memory");
    while (__atomic_exchange_n(&ioapic_lock_word, 1, __ATOMIC_ACQUIRE)) cpu_relax();
}
static void ioapic_unlock(u64 flags) {
    __atomic_store_n(&ioapic_lock_word, 0, __ATOMIC_RELEASE);
    if (flags & (1u << 9)) irq_enable();
}
u32 ioapic_read(u32 base, u32 reg) {
    u64 f;
    ioapic_lock(&f);
    mmio_write32(base, reg);
    u32 v = mmio_read32(base + 0x10);
    ioapic_unlock(f);
    return v;
}
void ioapic_write(u32 base, u32 reg, u32 v) {
    u64 f;
    ioapic_lock(&f);
    mmio_write32(base, reg);
    mmio_write32(base + 0x10, v);
    ioapic_unlock(f);
}
u32 ioapic_max_rte(u32 base) { return (ioapic_read(base, 1) >> 16) & 0xff; }
u64 ioapic_read_rte(u32 base, u32 pin) {
    u32 lo = ioapic_read(base, 0x10 + 2 * pin);
    u32 hi = ioapic_read(base, 0x11 + 2 * pin);
    return ((u64)hi << 32) | lo;
}
/* High half (destination) first, then the low half, which holds the mask bit. */
void ioapic_write_rte(u32 base, u32 pin, u64 rte) {
    ioapic_write(base, 0x11 + 2 * pin, (u32)(rte >> 32));
    ioapic_write(base, 0x10 + 2 * pin, (u32)rte);
}
bool ioapic_for_gsi(u32 gsi, u32 *base, u32 *pin) {
    for (u32 i = 0; i < lab_acpi.nioapics; i++) {
        struct lab_ioapic_info *io = &lab_acpi.ioapics[i];
        u32 n = ioapic_max_rte(io->addr) + 1;
        if (gsi >= io->gsi_base && gsi < io->gsi_base + n) {
            *base = io->addr;
            *pin = gsi - io->gsi_base;
            return true;
        }
    }
    return false;
}
void ioapic_mask_all(void) {
    for (u32 i = 0; i < lab_acpi.nioapics; i++) {
        u32 base = lab_acpi.ioapics[i].addr;
        u32 max = ioapic_max_rte(base);
        if (max > 239) continue; /* not an IOAPIC answering there */
        for (u32 pin = 0; pin <= max; pin++) ioapic_write_rte(base, pin, RTE_MASKED);
    }
}

/* ---- 8259 PIC: mask everything (LINT0 is masked too, so nothing from it reaches a CPU) ------ */
void pic_disable(void) {
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/* ---- PCI configuration mechanism #1 -------------------------------------------------------- */
static u32 pci_addr(u8 bus, u8 dev, u8 fn, u8 off) {
    return 0x80000000u | ((u32)bus << 16) | ((u32)(dev & 31) << 11) | ((u32)(fn & 7) << 8) |
           (off & 0xfc);
}
u32 pci_cfg_read32(u8 bus, u8 dev, u8 fn, u8 off) {
    outl(0xcf8, pci_addr(bus, dev, fn, off));
    return inl(0xcfc);
}
u16 pci_cfg_read16(u8 bus, u8 dev, u8 fn, u8 off) {
    outl(0xcf8, pci_addr(bus, dev, fn, off));
    return inw((u16)(0xcfc + (off & 2)));
}
u8 pci_cfg_read8(u8 bus, u8 dev, u8 fn, u8 off) {
    outl(0xcf8, pci_addr(bus, dev, fn, off));
    return inb((u16)(0xcfc + (off & 3)));
}
void pci_cfg_write32(u8 bus, u8 dev, u8 fn, u8 off, u32 v) {
    outl(0xcf8, pci_addr(bus, dev, fn, off));
    outl(0xcfc, v);
}
void pci_cfg_write16(u8 bus, u8 dev, u8 fn, u8 off, u16 v) {
    outl(0xcf8, pci_addr(bus, dev, fn, off));
    outw((u16)(0xcfc + (off & 2)), v);
}
void pci_cfg_write8(u8 bus, u8 dev, u8 fn, u8 off, u8 v) {
    outl(0xcf8, pci_addr(bus, dev, fn, off));
    outb((u16)(0xcfc + (off & 3)), v);
}

/* ---- platform probe ------------------------------------------------------------------------ */
#define PROBE_VECTOR 0xee
static volatile int probe_isr = -1;
static void probe_handler(struct lab_frame *f) { probe_isr = lapic_vector_bit(LAPIC_ISR, PROBE_VECTOR); }

bool lab_detect_auto_eoi(void) {
    static int result = -1;
    if (result >= 0) return result;
    lab_set_handler(PROBE_VECTOR, probe_handler);
    probe_isr = -1;
    lapic_self_ipi(PROBE_VECTOR);
    LAB_WAIT(probe_isr >= 0, 200);
    if (lapic_vector_bit(LAPIC_ISR, PROBE_VECTOR)) lapic_eoi();
    lab_set_handler(PROBE_VECTOR, 0);
    result = probe_isr == 0;
    if (probe_isr < 0) lab_info("platform: self-IPI probe got no interrupt");
    else if (result)
        lab_info("platform: LAPIC ISR bit not set while the handler runs: auto-EOI behaviour "
                 "(known on kvm_pvm; declare quirks=auto-eoi to expect it)");
    return result;
}
