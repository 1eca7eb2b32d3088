/* Lab guest runtime: freestanding x86-64 helpers shared by every lab guest.
 * See guests/README.md for the boot protocol, the results protocol and the guests. */
#ifndef LAB_H
#define LAB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

#define LAB_MAX_CPUS 64
#define LAB_MAX_IOAPICS 4
#define LAB_MAX_OVERRIDES 16
#define LAB_SPURIOUS_VECTOR 0xff

/* ---- guest definition --------------------------------------------------------------- */
/* Each guest defines its name with LAB_GUEST("name") and a `void lab_main(void)`. */
extern const char lab_guest_name[];
#define LAB_GUEST(n) const char lab_guest_name[] = n
void lab_main(void);

/* ---- CPU helpers ------------------------------------------------------------------------ */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 mmio_read32(u64 addr) { return *(volatile u32 *)(uintptr_t)addr; }
static inline void mmio_write32(u64 addr, u32 v) { *(volatile u32 *)(uintptr_t)addr = v; }
static inline u64 rdmsr(u32 msr) {
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v) {
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdtsc(void) {
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}
static inline u64 read_cr2(void) { u64 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline bool irq_enabled(void) {
    u64 f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f & (1u << 9);
}
/* sti; nop: the interrupt window after sti opens after the next instruction. */
static inline void irq_enable_and_nop(void) { __asm__ volatile("sti; nop" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
/* `lock xadd`: returns the old value. */
static inline u32 atomic_fetch_add32(volatile u32 *p, u32 v) {
    __asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
    return v;
}
static inline u32 atomic_read32(const volatile u32 *p) { return *p; }
__attribute__((noreturn)) void lab_halt_forever(void);

/* ---- string / format -------------------------------------------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int lab_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int lab_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- serial console (COM1, polled) ------------------------------------------------------ */
#define COM1 0x3f8
#define COM1_IRQ 4
void serial_init(void);
void serial_putc_raw(char c); /* polled, no locking, no newline translation */
/* printf-style: %s %c %d %u %x %lx %ld %lu %p, flags '0' '-' and width. Whole call is atomic
 * across CPUs. */
void lab_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lab_vprintf(const char *fmt, va_list ap);
/* While set, lab_printf output is dropped into a buffer and written when cleared (used by the
 * serial guest while it drives the UART itself). */
void lab_console_hold(bool hold);

/* ---- results protocol ------------------------------------------------------------------- */
void lab_pass(const char *name);
void lab_fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pass if cond, else fail with the formatted reason. Returns cond. */
bool lab_check(bool cond, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lab_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Platform quirks: the harness may declare known platform defects with quirks=a,b on the
 * command line. A check that fails while a quirk it depends on is declared prints
 * "LAB-INFO xfail <guest>.<name> (quirk <q>): <reason>" instead of LAB-FAIL, and does not
 * count as a failure; a check that passes is a LAB-PASS as usual. Strict by default.
 *   auto-eoi: the LAPIC behaves as if every interrupt were EOI'd when delivered (ISR never
 *             set in the handler; level-triggered pins re-deliver while the line is high).
 *             Seen with the kvm_pvm software KVM backend. */
bool lab_quirk(const char *quirk);
bool lab_check_q(const char *quirk, bool cond, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Self-IPI probe: true if the ISR bit is clear inside the handler (auto-EOI platform). Prints
 * a LAB-INFO line when detected. Needs IF=1 and TPR 0. */
bool lab_detect_auto_eoi(void);
u32 lab_pass_count(void);
u32 lab_fail_count(void);
/* Print LAB-DONE and exit with 0 (no failure) or 1. */
__attribute__((noreturn)) void lab_done(void);
/* outl(0xf4, status); halts if the VMM does not stop the VM. */
__attribute__((noreturn)) void lab_exit(u32 status);

/* ---- boot information ------------------------------------------------------------------- */
enum lab_boot_kind { LAB_BOOT_PVH = 1, LAB_BOOT_MULTIBOOT = 2 };
struct lab_mem_range { u64 addr, size; u32 type; };
#define LAB_MAX_MEM_RANGES 32
struct lab_boot_info {
    enum lab_boot_kind kind;
    u32 raw_magic;       /* hvm_start_info.magic or multiboot eax */
    u32 info_addr;       /* ebx at entry */
    u32 pvh_version;
    u64 rsdp_hint;       /* PVH rsdp_paddr, 0 if none */
    u32 mem_lower_kib, mem_upper_kib; /* multiboot bit 0 */
    u32 nr_ranges;
    struct lab_mem_range ranges[LAB_MAX_MEM_RANGES];
};
extern struct lab_boot_info lab_boot;
const char *lab_cmdline(void);
/* key=value lookup in the command line; returns false if absent. A bare `key` gives "". */
bool lab_cmdline_get(const char *key, char *out, size_t outlen);
u64 lab_cmdline_u64(const char *key, u64 dflt);

/* ---- time ------------------------------------------------------------------------------- */
extern u64 lab_tsc_khz;
extern u64 lab_apic_timer_khz; /* LAPIC timer input clock (divide by 1) */
extern const char *lab_time_source;
void lab_time_init(void);
u64 lab_now_us(void);
void lab_udelay(u64 us);
void lab_mdelay(u64 ms);
u64 lab_deadline_ms(u64 ms);        /* TSC value `ms` from now */
bool lab_expired(u64 deadline_tsc);
/* Spin (pause) until `cond` holds or `ms` milliseconds pass; evaluates to the final cond. */
#define LAB_WAIT(cond, ms)                                                                     \
    ({                                                                                         \
        u64 __dl = lab_deadline_ms(ms);                                                        \
        bool __ok;                                                                             \
        while (!(__ok = (cond)) && !lab_expired(__dl)) cpu_relax();                            \
        __ok;                                                                                  \
    })

/* ---- interrupts ------------------------------------------------------------------------- */
struct lab_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss;
};
typedef void (*lab_irq_handler)(struct lab_frame *f);
void lab_set_handler(u8 vector, lab_irq_handler h); /* vectors 32..255 */
/* Expected exceptions: while lab_fault_resume is non-zero, an exception (0..31) resumes
 * there (once; the field is cleared) and counts in lab_fault_count instead of failing. */
extern volatile u64 lab_fault_resume;
extern volatile u32 lab_fault_count;
extern volatile u32 lab_fault_last_vector;
extern volatile u32 lab_spurious_count;
extern volatile u32 lab_last_spurious_vector;
void idt_init(void);
void idt_load(void);

/* ---- ACPI / MP ---------------------------------------------------------------------------- */
struct lab_ioapic_info { u32 id, addr, gsi_base; };
struct lab_override { u8 bus, source; u32 gsi; u16 flags; };
struct lab_acpi {
    bool found;              /* MADT found */
    u64 rsdp_addr;
    u8 rsdp_revision;
    bool rsdp_from_hint;
    bool used_xsdt;
    u32 lapic_addr;
    u32 madt_flags;
    u32 ncpus;
    u32 apic_ids[LAB_MAX_CPUS];
    u32 nioapics;
    struct lab_ioapic_info ioapics[LAB_MAX_IOAPICS];
    u32 noverrides;
    struct lab_override overrides[LAB_MAX_OVERRIDES];
    u32 checksum_errors;
    bool mp_found;
    u64 mp_addr;
    bool mp_checksum_ok;
};
extern struct lab_acpi lab_acpi;
void acpi_init(void); /* reports LAB-FAIL lines for bad checksums */
/* ISA IRQ -> GSI and RTE polarity/trigger bits from the MADT (ISA default: edge, high). */
struct lab_isa_route { u32 gsi; bool active_low; bool level; bool overridden; };
struct lab_isa_route acpi_isa_route(u8 isa_irq);
const char *acpi_table_list(void); /* signatures of the tables found, space separated */
const void *acpi_find_table(const char *sig); /* a table listed by the XSDT/RSDT (or the DSDT) */

/* ---- LAPIC ------------------------------------------------------------------------------- */
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_PPR 0xa0
#define LAPIC_EOI 0xb0
#define LAPIC_LDR 0xd0
#define LAPIC_SVR 0xf0
#define LAPIC_ISR 0x100
#define LAPIC_TMR 0x180
#define LAPIC_IRR 0x200
#define LAPIC_ESR 0x280
#define LAPIC_ICR 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LAPIC_SELF_IPI 0x3f0 /* x2APIC only */

#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define ICR_FIXED 0x000
#define ICR_INIT 0x500
#define ICR_STARTUP 0x600
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_LEVEL_TRIG (1u << 15)
#define ICR_PENDING (1u << 12)
#define ICR_DEST_SELF (1u << 18)
#define ICR_DEST_ALL_BUT_SELF (3u << 18)
#define IA32_APIC_BASE 0x1b
#define APIC_BASE_BSP (1u << 8)
#define APIC_BASE_X2APIC (1u << 10)
#define APIC_BASE_ENABLE (1u << 11)

bool lapic_x2apic_mode(void);
bool lapic_has_x2apic(void);      /* CPUID.1:ECX[21] */
void lapic_enable_x2apic(void);   /* this CPU */
u32 lapic_read(u32 reg);          /* xAPIC register offset, works in both modes */
void lapic_write(u32 reg, u32 v);
u32 lapic_id(void);               /* full APIC ID (xAPIC: bits 31:24 of the ID register) */
void lapic_eoi(void);
void lapic_cpu_init(void);        /* enable, SVR, mask LVTs, TPR 0: every CPU calls this */
void lapic_send_ipi(u32 dest, u32 icr_low); /* waits for delivery (xAPIC), bounded */
void lapic_self_ipi(u8 vector);   /* ICR with the "self" shorthand */
bool lapic_vector_bit(u32 base_reg, u8 vector); /* ISR/IRR/TMR bit test */

/* ---- IOAPIC ------------------------------------------------------------------------------ */
#define RTE_MASKED (1ull << 16)
#define RTE_LEVEL (1ull << 15)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_ACTIVE_LOW (1ull << 13)
#define RTE_DELIVS (1ull << 12)
#define RTE_LOGICAL (1ull << 11)
u32 ioapic_read(u32 base, u32 reg);
void ioapic_write(u32 base, u32 reg, u32 v);
u32 ioapic_max_rte(u32 base);
u64 ioapic_read_rte(u32 base, u32 pin);
void ioapic_write_rte(u32 base, u32 pin, u64 rte);
/* Find the IOAPIC for a GSI: returns false if none. */
bool ioapic_for_gsi(u32 gsi, u32 *base, u32 *pin);
void ioapic_mask_all(void);

/* ---- PIC / PCI --------------------------------------------------------------------------- */
void pic_disable(void);
u32 pci_cfg_read32(u8 bus, u8 dev, u8 fn, u8 off);
u16 pci_cfg_read16(u8 bus, u8 dev, u8 fn, u8 off);
u8 pci_cfg_read8(u8 bus, u8 dev, u8 fn, u8 off);
void pci_cfg_write32(u8 bus, u8 dev, u8 fn, u8 off, u32 v);
void pci_cfg_write16(u8 bus, u8 dev, u8 fn, u8 off, u16 v);
void pci_cfg_write8(u8 bus, u8 dev, u8 fn, u8 off, u8 v);

/* ---- SMP ---------------------------------------------------------------------------------- */
typedef void (*lab_ap_fn)(u32 cpu_index, u32 apic_id);
/* Start the AP with this APIC ID (INIT-SIPI-SIPI) and run fn on it; then the AP idles with
 * interrupts enabled (sti; hlt). Returns true once the AP reached C code, false on timeout. */
bool smp_start_ap(u32 apic_id, lab_ap_fn fn, u32 timeout_ms);
u32 smp_online_count(void); /* CPUs that reached C code, BSP included */
u32 lab_cpu_index(void);    /* 0 on the BSP, 1.. on APs in arrival order */
#define SMP_TRAMPOLINE 0x8000

#endif

/* Check that an integer result (a hypercall's return, an errno) is exactly `want`. */
#define EXPECT(expr, want, name)                                                               \
    do {                                                                                       \
        long __r = (expr);                                                                     \
        lab_check(__r == (long)(want), name, "got %ld, want %ld", __r, (long)(want));          \
    } while (0)

