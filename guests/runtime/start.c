/* C entry for the BSP and the APs, the IDT and the interrupt dispatcher. */
#include "lab.h"
#include "percpu.h"

extern u32 boot_magic, boot_info, boot_kind;
extern const u64 lab_isr_table[256];

struct lab_percpu lab_cpus[LAB_MAX_CPUS];

void percpu_setup(u32 index) {
    struct lab_percpu *p = &lab_cpus[index];
    p->self = p;
    p->index = index;
    wrmsr(0xC0000101, (u64)(uintptr_t)p); /* IA32_GS_BASE */
}

/* ---- IDT ------------------------------------------------------------------------------------ */
struct idt_entry {
    u16 off_lo, sel;
    u8 ist, type;
    u16 off_mid;
    u32 off_hi, zero;
} __attribute__((packed));
static struct idt_entry idt[256] __attribute__((aligned(16)));
static lab_irq_handler handlers[256];
volatile u32 lab_spurious_count;
volatile u32 lab_last_spurious_vector;

void idt_init(void) {
    for (int v = 0; v < 256; v++) {
        u64 a = lab_isr_table[v];
        idt[v] = (struct idt_entry){(u16)a, 0x08, 0, 0x8E, (u16)(a >> 16), (u32)(a >> 32), 0};
    }
}
void idt_load(void) {
    struct {
        u16 limit;
        u64 base;
    } __attribute__((packed)) ptr = {sizeof(idt) - 1, (u64)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(ptr));
}
void lab_set_handler(u8 vector, lab_irq_handler h) {
    if (vector >= 32) handlers[vector] = h;
}

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

/* An exception a guest provoked on purpose resumes at lab_fault_resume (see lab.h). */
volatile u64 lab_fault_resume;
volatile u32 lab_fault_count;
volatile u32 lab_fault_last_vector;

void lab_isr_dispatch(struct lab_frame *f) {
    u32 v = (u32)f->vector;
    if (v < 32 && lab_fault_resume) {
        f->rip = lab_fault_resume;
        lab_fault_resume = 0;
        lab_fault_last_vector = v;
        lab_fault_count++;
        return;
    }
    if (v < 32) {
        lab_printf("LAB-FAIL %s: exception %u at rip=0x%lx err=0x%lx cr2=0x%lx (%s, cpu %u)\n",
                   lab_guest_name, v, f->rip, f->error, read_cr2(),
                   exc_names[v] ? exc_names[v] : "reserved", this_cpu_index());
        lab_exit(3);
    }
    lab_irq_handler h = handlers[v];
    if (h) {
        h(f);
        return;
    }
    u32 n = atomic_fetch_add32(&lab_spurious_count, 1);
    lab_last_spurious_vector = v;
    if (n < 8) lab_info("spurious interrupt: vector %u on cpu %u", v, this_cpu_index());
    /* The LAPIC spurious vector sets no ISR bit; anything else unhandled gets an EOI so it
     * does not block lower-priority vectors. */
    if (v != LAB_SPURIOUS_VECTOR) lapic_eoi();
}

/* ---- BSP / AP entries ---------------------------------------------------------------------- */
extern void lab_time_init(void);
extern void smp_ap_main(u32 index);

void lab_start_c(void) {
    percpu_setup(0);
    serial_init();
    lab_boot_parse(boot_kind, boot_magic, boot_info);
    idt_init();
    idt_load();
    pic_disable();
    lapic_cpu_init();
    lab_cpus[0].apic_id = lapic_id();
    lab_cpus[0].online = true;

    lab_printf("\n");
    if (lab_boot.kind == LAB_BOOT_PVH && boot_magic != 0x336ec578u)
        lab_fail("boot", "PVH entry but hvm_start_info magic is 0x%x", boot_magic);
    if (lab_boot.kind == LAB_BOOT_MULTIBOOT && boot_magic != 0x2BADB002u)
        lab_fail("boot", "multiboot entry but eax=0x%x", boot_magic);

    acpi_init();
    ioapic_mask_all();
    lab_time_init();
    lab_info("runtime: guest=%s boot=%s cpus=%u bsp-apic=%u tsc=%lu kHz cmdline=\"%s\"",
             lab_guest_name, lab_boot.kind == LAB_BOOT_PVH ? "pvh" : "multiboot",
             lab_acpi.ncpus, lab_cpus[0].apic_id, lab_tsc_khz, lab_cmdline());
    irq_enable();
    lab_main();
    lab_done();
}

void ap_entry_c(u32 index) {
    percpu_setup(index);
    idt_load();
    smp_ap_main(index);
    lab_halt_forever();
}
