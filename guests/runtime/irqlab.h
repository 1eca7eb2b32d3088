/* irq-lab PCI device driver (docs/irq-lab.md): registers in BAR0, sequence page, MSI-X / MSI /
 * INTx helpers shared by the irqlab-* guests. */
#ifndef LAB_IRQLAB_H
#define LAB_IRQLAB_H
#include "pci.h"

#define IRQLAB_VENDOR 0x1b36
#define IRQLAB_DEVICE 0x0100
#define IRQLAB_ID_VALUE 0x4c515249u
#define IRQLAB_MAX 4
#define IRQLAB_SEQ_VECTORS 1024

enum {
    IRQLAB_ID = 0x000, IRQLAB_VERSION = 0x004, IRQLAB_NUM_VECTORS = 0x008, IRQLAB_FEATURES = 0x00c,
    IRQLAB_INTX = 0x010, IRQLAB_INTX_AUTO = 0x014, IRQLAB_FIRE = 0x020, IRQLAB_BURST_COUNT = 0x024,
    IRQLAB_BURST = 0x028, IRQLAB_FIRE_RANGE = 0x02c, IRQLAB_SEQ_BASE_LO = 0x030,
    IRQLAB_SEQ_BASE_HI = 0x034, IRQLAB_ACK = 0x040, IRQLAB_ACK_INTX = 0x044, IRQLAB_FIRED = 0x050,
    IRQLAB_ACKED = 0x058,
};
#define IRQLAB_F_MSIX 1u
#define IRQLAB_F_MSI 2u
#define IRQLAB_F_INTX 4u

struct irqlab {
    struct pci_dev *pci;
    u64 regs;
    u32 num_vectors, features;
    volatile u32 *seq;       /* sequence page (1024 counters), armed by irqlab_open */
    bool seq_armed;
    bool ack;                /* handlers write ACK (latency protocol) */
};
/* Open the nth irq-lab function: decode + bus master on, ID/VERSION checked (LAB-FAIL
 * <prefix>.identity otherwise), the sequence page zeroed and armed. */
bool irqlab_open(struct irqlab *l, u32 nth, const char *prefix);
u32 irqlab_count(void); /* irq-lab functions on bus 0 */
static inline u32 irqlab_rd(const struct irqlab *l, u32 off) { return mmio_read32(l->regs + off); }
static inline void irqlab_wr(const struct irqlab *l, u32 off, u32 v) { mmio_write32(l->regs + off, v); }
u64 irqlab_rd64(const struct irqlab *l, u32 off); /* FIRED / ACKED (lo, hi pairs) */
/* Raise counter of vector v from the sequence page (0 for v >= 1024 or when not armed). */
static inline u32 irqlab_seq(const struct irqlab *l, u32 v) {
    return l->seq_armed && v < IRQLAB_SEQ_VECTORS ? __atomic_load_n(&l->seq[v], __ATOMIC_ACQUIRE) : 0;
}
static inline bool irqlab_has_seq(const struct irqlab *l, u32 v) { return l->seq_armed && v < IRQLAB_SEQ_VECTORS; }

/* Per-source bookkeeping filled by irqlab_hook (sources = device vectors of device 0). */
extern struct irqlab *irqlab_hook_dev;
extern volatile u32 irqlab_seen_seq[IRQLAB_SEQ_VECTORS]; /* highest seq seen by a handler */
void irqlab_hook(u32 src, u32 cpu); /* irqc hook: record seq, write ACK if l->ack */

#endif
