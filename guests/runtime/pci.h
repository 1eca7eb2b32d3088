/* PCI for lab guests: bus-0 enumeration (CF8/CFC, or ECAM when an MCFG table exists), BARs
 * as firmware assigned them, capability lists, MSI-X, MSI, INTx through the IOAPIC, and a
 * per-source interrupt counter table. See guests/README.md. */
#ifndef LAB_PCI_H
#define LAB_PCI_H
#include "lab.h"

static inline u8 mmio_read8(u64 a) { return *(volatile u8 *)(uintptr_t)a; }
static inline u16 mmio_read16(u64 a) { return *(volatile u16 *)(uintptr_t)a; }
static inline void mmio_write8(u64 a, u8 v) { *(volatile u8 *)(uintptr_t)a = v; }
static inline void mmio_write16(u64 a, u16 v) { *(volatile u16 *)(uintptr_t)a = v; }

/* Make [addr, addr+len) reachable and uncached (2 MiB pages; above 4 GiB from a small pool of
 * page directories). Call before starting APs when the range is below 4 GiB (TLBs of other
 * CPUs are not shot down). Returns false if the pool is exhausted. */
bool lab_map_mmio(u64 addr, u64 len);

/* ---- enumeration, config space, BARs, capabilities (runtime/pci.c) --------------------- */
#define PCI_MAX_DEVS 64
#define PCI_CMD 0x04
#define PCI_CMD_IO (1u << 0)
#define PCI_CMD_MEM (1u << 1)
#define PCI_CMD_MASTER (1u << 2)
#define PCI_CMD_INTX_DISABLE (1u << 10)
#define PCI_STATUS 0x06
#define PCI_STATUS_INTX (1u << 3)
#define PCI_STATUS_CAPS (1u << 4)
#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11
#define PCI_BAR_IO 1
#define PCI_BAR_64 2
#define PCI_BAR_PREFETCH 4
struct pci_dev {
    u8 bus, slot, fn;
    u16 vendor, device;
    u8 class_code, subclass, prog_if, revision, header, int_pin, int_line;
    u64 bar[6];       /* address as assigned (0 = unassigned or upper half of a 64-bit BAR) */
    u8 bar_flags[6];  /* PCI_BAR_* */
};
extern struct pci_dev pci_devs[PCI_MAX_DEVS];
extern u32 pci_ndevs;
extern u64 pci_ecam_base; /* 0 = CF8/CFC only */
/* Enumerate bus 0 once (later calls return at once). With an MCFG table, config accesses go
 * through ECAM and every function's ID is cross-checked against CF8/CFC (LAB-FAIL
 * pci.ecam-mismatch on a difference). Prints one LAB-INFO line per function if verbose. */
void pci_init(bool verbose);
u32 pci_read32(const struct pci_dev *d, u16 off);
u16 pci_read16(const struct pci_dev *d, u16 off);
u8 pci_read8(const struct pci_dev *d, u16 off);
void pci_write32(const struct pci_dev *d, u16 off, u32 v);
void pci_write16(const struct pci_dev *d, u16 off, u16 v);
void pci_write8(const struct pci_dev *d, u16 off, u8 v);
struct pci_dev *pci_find(u16 vendor, u16 device, u32 nth); /* nth match, 0-based */
/* Offset of the first capability with this ID after `after` (0 = from the start); 0 if none.
 * The walk stops after 48 entries (a looping list is not followed forever). */
u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 after);
/* Set memory/I/O decode (for the BAR kinds present) and optionally bus mastering; keeps the
 * firmware's BAR addresses. Maps every memory BAR with lab_map_mmio. */
void pci_enable(struct pci_dev *d, bool bus_master);
void pci_intx_disable(struct pci_dev *d, bool disable);

/* ---- MSI-X (runtime/msix.c) ------------------------------------------------------------ */
struct msix {
    struct pci_dev *d;
    u8 cap;
    u32 size;          /* table entries */
    u8 table_bir, pba_bir;
    u32 table_off, pba_off;
    u64 table, pba;    /* addresses */
};
/* MSI address/data for a fixed, edge-triggered, physical-destination interrupt (APIC IDs
 * above 255 use the extended destination ID bits 11:5). */
u32 msi_address(u32 apic_id);
bool msix_init(struct msix *m, struct pci_dev *d); /* finds the capability; enables nothing */
u16 msix_control(const struct msix *m);
void msix_enable(struct msix *m, bool on);
void msix_function_mask(struct msix *m, bool masked);
/* Program address/data of entry i; leaves its mask bit alone. */
void msix_set(struct msix *m, u32 i, u32 apic_id, u8 vector);
void msix_mask(struct msix *m, u32 i, bool masked);
u32 msix_entry_word(const struct msix *m, u32 i, u32 word); /* 0 addr lo, 1 hi, 2 data, 3 ctl */
bool msix_pending(const struct msix *m, u32 i);

/* ---- MSI (runtime/msi.c) ---------------------------------------------------------------- */
struct msi {
    struct pci_dev *d;
    u8 cap;
    bool is64, maskable;
    u32 capable;       /* messages the function asks for (1..32) */
    u32 enabled;       /* messages enabled by msi_setup */
};
bool msi_init(struct msi *m, struct pci_dev *d);
/* Program address/data for n messages (power of two <= capable) starting at base_vector,
 * which must be aligned to n; the function ORs the message number into the data's low bits. */
bool msi_setup(struct msi *m, u32 apic_id, u8 base_vector, u32 n);
void msi_enable(struct msi *m, bool on);
void msi_mask(struct msi *m, u32 i, bool masked); /* needs m->maskable */
u32 msi_mask_bits(const struct msi *m);
u32 msi_pending_bits(const struct msi *m);

/* ---- INTx through the IOAPIC (runtime/intx.c) -------------------------------------------- */
struct pci_intx {
    u8 pin;            /* Interrupt Pin register: 1 = INTA# */
    u32 line;          /* swizzled PCI interrupt line: (slot + pin - 1) % 4 */
    u32 gsi;
    u32 ioapic_base, ioapic_pin;
    bool active_low, level;
    bool from_mp;      /* taken from an MP-table I/O interrupt entry (else the default) */
    bool mp_entry;     /* the MP table has an entry for this slot/pin */
    u32 mp_gsi;
};
/* Route of the function's INTx: an MP-table PCI I/O interrupt entry when there is one, else
 * the default of the VMM (and QEMU's q35): GSI 16 + line, level, active-high. */
bool pci_intx_route(const struct pci_dev *d, struct pci_intx *r);
void pci_intx_program(const struct pci_intx *r, u8 vector, u32 dest_apic, bool masked);

/* ---- interrupt counter table (runtime/irqcount.c) ----------------------------------------- */
/* Sources (device vectors 0..IRQC_SOURCES-1) are bound to IDT vectors from a pool; the shared
 * handler counts per source and per CPU, runs the source's hook, then EOIs. Rebinding an IDT
 * vector moves later interrupts to the new source, so scenarios fire at most one source per
 * IDT vector at a time and wait for it before rebinding. */
#define IRQC_SOURCES 2048
#define IRQC_CPUS 16
typedef void (*irqc_hook)(u32 src, u32 cpu);
extern volatile u32 irqc_count[IRQC_SOURCES][IRQC_CPUS];
extern volatile u32 irqc_unbound; /* interrupts on a pool vector with no source bound */
u32 irqc_pool_size(void);          /* usable IDT vectors (0x20..0xfd minus 0xee) */
u8 irqc_pool_vector(u32 i);
void irqc_bind(u8 vector, u32 src, irqc_hook hook);
void irqc_unbind(u8 vector);
u32 irqc_total(u32 src);
void irqc_reset(u32 first, u32 n);
u32 irqc_cpu_slot(u32 cpu_index);  /* column of irqc_count for a CPU index */

#endif
