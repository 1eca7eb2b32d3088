/* Time base: the TSC, calibrated against the LAPIC timer. KVM's and QEMU's LAPIC timer runs
 * at 1 GHz at divide-by-1 (one count per ns); a hypervisor timing leaf (0x40000010) that
 * reports the TSC and APIC bus frequencies takes precedence. */
#include "lab.h"

u64 lab_tsc_khz = 1000000;
u64 lab_apic_timer_khz = 1000000;
const char *lab_time_source = "default";

static u32 hv_timing_leaf(u32 *tsc_khz, u32 *bus_khz) {
    u32 a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 31))) return 0; /* no hypervisor */
    cpuid(0x40000000, 0, &a, &b, &c, &d);
    if (a < 0x40000010) return 0;
    cpuid(0x40000010, 0, &a, &b, &c, &d);
    *tsc_khz = a;
    *bus_khz = b;
    return a;
}

void lab_time_init(void) {
    u32 hv_tsc = 0, hv_bus = 0;
    if (hv_timing_leaf(&hv_tsc, &hv_bus) && hv_bus) lab_apic_timer_khz = hv_bus;

    /* Count the TSC while the (masked) LAPIC timer counts down 10 ms worth of ticks. */
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_DIV, 0xB); /* divide by 1 */
    lapic_write(LAPIC_TIMER_INIT, 0xFFFFFFFFu);
    u64 t0a = rdtsc();
    u32 c0 = lapic_read(LAPIC_TIMER_CUR);
    u64 t0b = rdtsc();
    u64 want = lab_apic_timer_khz * 10; /* ticks in 10 ms */
    u32 c = c0;
    u64 ta = t0a, tb = t0b;
    for (u32 i = 0; i < 20000000u; i++) {
        ta = rdtsc();
        c = lapic_read(LAPIC_TIMER_CUR);
        tb = rdtsc();
        if ((u64)(c0 - c) >= want) break;
    }
    lapic_write(LAPIC_TIMER_INIT, 0);
    u64 ticks = c0 - c;
    u64 dtsc = (ta + tb) / 2 - (t0a + t0b) / 2;
    if (ticks >= want / 2 && dtsc) {
        lab_tsc_khz = dtsc * lab_apic_timer_khz / ticks;
        lab_time_source = "tsc/lapic-timer";
    } else if (hv_tsc) {
        lab_tsc_khz = hv_tsc;
        lab_time_source = "tsc/cpuid-0x40000010";
    } else {
        u32 a, b, cc, d;
        cpuid(0, 0, &a, &b, &cc, &d);
        if (a >= 0x16) {
            cpuid(0x16, 0, &a, &b, &cc, &d);
            if (a) lab_tsc_khz = (u64)a * 1000;
        }
        lab_time_source = "tsc/guessed (LAPIC timer not counting)";
    }
    if (hv_tsc && lab_tsc_khz != hv_tsc)
        lab_info("time: calibrated TSC %lu kHz, hypervisor leaf says %u kHz", lab_tsc_khz, hv_tsc);
    if (lab_tsc_khz < 1000) lab_tsc_khz = 1000;
}

u64 lab_now_us(void) {
    u64 t = rdtsc();
    return t / lab_tsc_khz * 1000 + t % lab_tsc_khz * 1000 / lab_tsc_khz;
}
u64 lab_deadline_ms(u64 ms) { return rdtsc() + ms * lab_tsc_khz; }
bool lab_expired(u64 deadline) { return (i64)(rdtsc() - deadline) >= 0; }
void lab_udelay(u64 us) {
    u64 end = rdtsc() + us * lab_tsc_khz / 1000;
    while ((i64)(rdtsc() - end) < 0) cpu_relax();
}
void lab_mdelay(u64 ms) { lab_udelay(ms * 1000); }
