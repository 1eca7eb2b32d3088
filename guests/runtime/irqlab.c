/* irq-lab device: open, identity checks, sequence page, handler hook. */
#include "irqlab.h"

static u32 seq_pages[IRQLAB_MAX][IRQLAB_SEQ_VECTORS] __attribute__((aligned(4096)));
struct irqlab *irqlab_hook_dev;
volatile u32 irqlab_seen_seq[IRQLAB_SEQ_VECTORS];

u32 irqlab_count(void) {
    u32 n = 0;
    while (pci_find(IRQLAB_VENDOR, IRQLAB_DEVICE, n)) n++;
    return n;
}

u64 irqlab_rd64(const struct irqlab *l, u32 off) {
    u32 hi, lo;
    do {
        hi = irqlab_rd(l, off + 4);
        lo = irqlab_rd(l, off);
    } while (irqlab_rd(l, off + 4) != hi);
    return (u64)hi << 32 | lo;
}

bool irqlab_open(struct irqlab *l, u32 nth, const char *prefix) {
    char c[48];
    lab_snprintf(c, sizeof(c), "%s.identity", prefix);
    *l = (struct irqlab){.pci = pci_find(IRQLAB_VENDOR, IRQLAB_DEVICE, nth), .ack = true};
    if (!l->pci || nth >= IRQLAB_MAX) return false;
    if (!l->pci->bar[0] || (l->pci->bar_flags[0] & PCI_BAR_IO)) {
        lab_fail(c, "BAR0 is not an assigned memory BAR (0x%lx)", l->pci->bar[0]);
        return false;
    }
    pci_enable(l->pci, true);
    l->regs = l->pci->bar[0];
    u32 id = irqlab_rd(l, IRQLAB_ID), ver = irqlab_rd(l, IRQLAB_VERSION);
    l->num_vectors = irqlab_rd(l, IRQLAB_NUM_VECTORS);
    l->features = irqlab_rd(l, IRQLAB_FEATURES);
    if (!lab_check(id == IRQLAB_ID_VALUE && ver == 1, c, "ID 0x%x VERSION %u", id, ver)) return false;
    lab_info("%s: irq-lab 00:%02x.%u BAR0 0x%lx: %u vectors, features 0x%x (%s%s%s), pin %u", prefix,
             l->pci->slot, l->pci->fn, l->regs, l->num_vectors, l->features,
             l->features & IRQLAB_F_MSIX ? "msix " : "", l->features & IRQLAB_F_MSI ? "msi " : "",
             l->features & IRQLAB_F_INTX ? "intx" : "", l->pci->int_pin);
    l->seq = seq_pages[nth];
    memset((void *)l->seq, 0, 4096);
    u64 pa = (u64)(uintptr_t)l->seq;
    irqlab_wr(l, IRQLAB_SEQ_BASE_LO, (u32)pa);
    irqlab_wr(l, IRQLAB_SEQ_BASE_HI, (u32)(pa >> 32));
    /* LO first, then HI, whose write arms the page ("0 = off" read as: address 0 disarms; our
     * page is below 4 GiB, so HI is 0 here). */
    l->seq_armed = true;
    return true;
}

void irqlab_hook(u32 src, u32 cpu) {
    struct irqlab *l = irqlab_hook_dev;
    if (!l) return;
    if (src < IRQLAB_SEQ_VECTORS && l->seq_armed) {
        u32 s = irqlab_seq(l, src), old = irqlab_seen_seq[src];
        while (s > old && !__atomic_compare_exchange_n(&irqlab_seen_seq[src], &old, s, false,
                                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        }
    }
    if (l->ack) irqlab_wr(l, IRQLAB_ACK, src);
}
