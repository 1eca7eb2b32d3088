/* smp: start every AP listed in the MADT with INIT-SIPI-SIPI; each checks in with lock xadd;
 * then fixed IPIs to each AP (physical destination) and to all-but-self. */
#include "lab.h"

LAB_GUEST("smp");

#define VEC_IPI 0x50
#define VEC_BCAST 0x51

static volatile u32 checked_in;
static volatile u32 ipi_hits[LAB_MAX_CPUS], bcast_hits[LAB_MAX_CPUS];
static volatile u32 apic_of_index[LAB_MAX_CPUS];

static void ap_main(u32 index, u32 apic_id) {
    apic_of_index[index] = apic_id;
    atomic_fetch_add32(&checked_in, 1);
    lab_printf("LAB-INFO cpu %u online\n", apic_id);
}

static void on_ipi(struct lab_frame *f) {
    u32 i = lab_cpu_index();
    if (f->vector == VEC_IPI) atomic_fetch_add32(&ipi_hits[i], 1);
    else atomic_fetch_add32(&bcast_hits[i], 1);
    lapic_eoi();
}

void lab_main(void) {
    u32 bsp = lapic_id();
    u32 n = lab_acpi.ncpus;
    if (!lab_check(n >= 1, "madt-cpus", "no CPUs in the MADT")) n = 1;
    lab_printf("LAB-INFO cpu %u online (bsp)\n", bsp);
    lab_set_handler(VEC_IPI, on_ipi);
    lab_set_handler(VEC_BCAST, on_ipi);

    u32 expected_aps = 0, missing = 0;
    for (u32 i = 0; i < lab_acpi.ncpus; i++) {
        u32 id = lab_acpi.apic_ids[i];
        if (id == bsp) continue;
        expected_aps++;
        if (id > 254 && !lapic_x2apic_mode()) {
            if (!lapic_has_x2apic()) {
                lab_fail("start-aps", "apic id %u needs x2APIC, which the CPU lacks", id);
                missing++;
                continue;
            }
            lapic_enable_x2apic();
        }
        if (!smp_start_ap(id, ap_main, 1000)) {
            lab_info("cpu %u did not reach C code within 1 s", id);
            missing++;
        }
    }
    if (!expected_aps) lab_info("single CPU: no AP to start");
    lab_check(!missing, "start-aps", "%u of %u APs did not start", missing, expected_aps);
    bool all = LAB_WAIT(atomic_read32(&checked_in) == expected_aps, 2000);
    lab_check(all && smp_online_count() == expected_aps + 1, "checkin",
              "%u of %u APs checked in (lock xadd counter), %u CPUs online", checked_in,
              expected_aps, smp_online_count());
    u64 want = lab_cmdline_u64("cpus", 0);
    if (want) lab_check(smp_online_count() == want, "cpus-expected", "%u CPUs online, cmdline says %lu",
                        smp_online_count(), want);

    /* Fixed IPI to each AP by physical APIC ID. */
    u32 ipi_bad = 0, online = smp_online_count();
    for (u32 i = 1; i < online && i < LAB_MAX_CPUS; i++) {
        u32 id = apic_of_index[i];
        lapic_send_ipi(id, ICR_FIXED | VEC_IPI);
        if (!LAB_WAIT(atomic_read32(&ipi_hits[i]) == 1, 500)) {
            lab_info("IPI to apic %u not received (hits %u)", id, ipi_hits[i]);
            ipi_bad++;
        }
    }
    if (online > 1) {
        lab_check(!ipi_bad && ipi_hits[0] == 0, "ipi-each-ap",
                  "%u APs missed their IPI, bsp got %u", ipi_bad, ipi_hits[0]);
        /* All-excluding-self shorthand. */
        lapic_send_ipi(0, ICR_DEST_ALL_BUT_SELF | ICR_FIXED | VEC_BCAST);
        bool ok = true;
        for (u32 i = 1; i < online && i < LAB_MAX_CPUS; i++)
            ok &= LAB_WAIT(atomic_read32(&bcast_hits[i]) == 1, 500);
        lab_mdelay(10);
        lab_check(ok && bcast_hits[0] == 0, "ipi-all-but-self",
                  "broadcast IPI: bsp hits %u, ap1 hits %u", bcast_hits[0], bcast_hits[1]);
    }
}
