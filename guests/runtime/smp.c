/* Starting APs: INIT-SIPI-SIPI with the real-mode trampoline copied to SMP_TRAMPOLINE. The AP
 * walks 16 -> 32 -> 64-bit (entry.S), takes the next stack and lands in smp_ap_main(). */
#include "lab.h"
#include "percpu.h"

extern const u8 ap_tramp_start[], ap_tramp_end[];
static volatile lab_ap_fn ap_fn;
static volatile u32 online = 1;
static bool x2apic_everywhere;

u32 smp_online_count(void) { return online; }
u32 lab_cpu_index(void) { return this_cpu_index(); }

void smp_ap_main(u32 index) {
    if (x2apic_everywhere) lapic_enable_x2apic();
    lapic_cpu_init();
    struct lab_percpu *me = this_cpu();
    lab_ap_fn fn = ap_fn;
    __atomic_store_n(&me->online, true, __ATOMIC_RELEASE);
    atomic_fetch_add32(&online, 1);
    if (fn) fn(index, me->apic_id);
    for (;;) __asm__ volatile("sti; hlt" ::: "memory");
}

static bool apic_online(u32 apic_id) {
    for (u32 i = 1; i < LAB_MAX_CPUS; i++)
        if (lab_cpus[i].online && lab_cpus[i].apic_id == apic_id) return true;
    return false;
}

bool smp_start_ap(u32 apic_id, lab_ap_fn fn, u32 timeout_ms) {
    static bool copied;
    if (!copied) {
        memcpy((void *)(uintptr_t)SMP_TRAMPOLINE, ap_tramp_start,
               (size_t)(ap_tramp_end - ap_tramp_start));
        copied = true;
    }
    x2apic_everywhere = lapic_x2apic_mode();
    ap_fn = fn;
    barrier();
    lapic_send_ipi(apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
    lab_mdelay(10);
    for (int i = 0; i < 2; i++) {
        lapic_send_ipi(apic_id, ICR_STARTUP | (SMP_TRAMPOLINE >> 12));
        lab_udelay(200);
        if (apic_online(apic_id)) return true;
    }
    return LAB_WAIT(apic_online(apic_id), timeout_ms);
}
