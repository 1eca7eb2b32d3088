/* xen-bench: EVTCHNOP_send -> upcall round trips (bench/xen-evtchn.ts), 2 vCPUs, xen-hvm.
 * Phases, each run for `ms=` milliseconds (default 1000) and reported as
 * "LAB-BENCH <name> ops=<n> us=<t>":
 *   exit          `out 0x80` in a loop: the bare I/O-exit round trip (answered on the vCPU
 *                 thread), the reference (run first and last).
 *   self-ipi, hcall-version, 2l-send-coalesced   further references: LAPIC self-IPI to a
 *                 handler, a trivial hypercall, EVTCHNOP_send to an already-pending port.
 *   2l-loopback   loopback interdomain pair on vCPU0: send to the peer port, wait for the
 *                 upcall handler to count it, send again.
 *   2l-ipi        ping-pong: vCPU0 sends to an IPI port on vCPU1, whose handler sends to an
 *                 IPI port on vCPU0; one op = the full round trip (two send -> upcall legs).
 *   fifo-loopback, fifo-ipi   the same after EVTCHNOP_init_control (FIFO ABI). */
#include "xen_fifo.h"

LAB_GUEST("xen-bench");

#define UPCALL_VECTOR 0xf3

static u8 hcall_page[4096] __attribute__((aligned(4096)));
static u8 shinfo[4096] __attribute__((aligned(4096)));
static u8 cb_page[2][4096] __attribute__((aligned(4096)));
static u8 array_page[4096] __attribute__((aligned(4096)));
static volatile struct vcpu_info *vinfo[2];
#define SELF_IPI_VECTOR 0xf4
static volatile u32 self_ipis;
static void self_ipi_handler(struct lab_frame *f) {
    self_ipis++;
    lapic_eoi();
}
static volatile bool fifo;
static volatile u32 count[2];
static volatile u32 pong_port; /* vCPU1's handler sends here */
static volatile bool ap_hlt;     /* the AP idles in hlt (woken by the upcall) instead of spinning */

static u32 cpu(void) { return lab_cpu_index() ? 1 : 0; }

static volatile u64 handler_tsc; /* vCPU0's handler entry (rdtsc) of the last event */

static void on_port(u32 port) {
    u32 c = cpu();
    if (c == 0) handler_tsc = rdtsc();
    count[c]++;
    if (c == 1 && pong_port) xen_evtchn_send(pong_port);
}

static void upcall_handler(struct lab_frame *f) {
    u32 c = cpu();
    if (fifo) {
        vinfo[c]->evtchn_upcall_pending = 0;
        xen_fifo_consume(c, on_port);
    } else {
        xen_2l_scan(shinfo, vinfo[c], 0, on_port);
    }
    lapic_eoi();
}

static volatile u32 ap_cmd, ap_a, ap_seq, ap_done;
static volatile long ap_ret;
enum { AP_BIND_IPI = 1, AP_INIT_CONTROL };
static void ap_main(u32 index, u32 apic_id) {
    irq_enable();
    u32 seen = 0;
    for (;;) {
        while (ap_seq == seen) {
            if (ap_hlt) __asm__ volatile("sti; hlt" ::: "memory");
            else cpu_relax();
        }
        seen = ap_seq;
        ap_ret = ap_cmd == AP_BIND_IPI ? xen_bind_ipi(1) : xen_fifo_init_control(1, cb_page[1], 0);
        __atomic_store_n(&ap_done, seen, __ATOMIC_SEQ_CST);
    }
}
static long ap_run(u32 cmd) {
    ap_cmd = cmd;
    __atomic_fetch_add(&ap_seq, 1, __ATOMIC_SEQ_CST);
    if (!LAB_WAIT(ap_done == ap_seq, 2000)) return -9999;
    return ap_ret;
}

static u64 phase_ms;

static void report(const char *name, u64 ops, u64 us) {
    lab_printf("LAB-BENCH %s ops=%lu us=%lu\n", name, ops, us);
}

static void bench_exit(void) {
    u64 ops = 0, t0 = lab_now_us(), end = t0 + phase_ms * 1000, t;
    do {
        for (int i = 0; i < 64; i++) outb(0x80, 0);
        ops += 64;
    } while ((t = lab_now_us()) < end);
    report("exit", ops, t - t0);
}

/* send to `port`, wait for count[0] to move, repeat */
static void bench_rt(const char *name, u32 port) {
    u64 in_send = 0, after_send = 0;
    u64 ops = 0, t0 = lab_now_us(), end = t0 + phase_ms * 1000, t;
    bool ok = true;
    do {
        for (int i = 0; i < 16 && ok; i++) {
            u32 c = count[0];
            u64 s0 = rdtsc();
            xen_evtchn_send(port);
            u64 s1 = rdtsc();
            /* wait in hlt (interrupts are taken only in the sti;hlt window) */
            u64 dl = lab_deadline_ms(1000);
            irq_disable();
            while (count[0] == c && !lab_expired(dl)) {
                __asm__ volatile("sti; hlt; cli" ::: "memory");
            }
            irq_enable();
            ok = count[0] != c;
            u64 h = handler_tsc;
            in_send += (h < s1 ? h : s1) - s0;
            after_send += h > s1 ? h - s1 : 0;
            ops++;
        }
    } while ((t = lab_now_us()) < end && ok);
    lab_check(ok, name, "no upcall after %lu round trips", ops);
    report(name, ops, t - t0);
    /* where the time goes: inside the send hypercall (until it returned or the handler ran)
     * and from its return to vCPU0's handler */
    u64 khz = lab_tsc_khz ? lab_tsc_khz : 1;
    lab_info("split %s in-send=%lu ns after-send=%lu ns per op", name, in_send * 1000000 / khz / (ops ? ops : 1),
             after_send * 1000000 / khz / (ops ? ops : 1));
}

/* LAPIC self-IPI -> handler -> EOI: the interrupt-delivery floor of the backend (no VMM
 * user space involved with the in-kernel irqchip) */
static void bench_self_ipi(void) {
    u64 ops = 0, t0 = lab_now_us(), end = t0 + phase_ms * 1000, t;
    bool ok = true;
    do {
        for (int i = 0; i < 16 && ok; i++) {
            u32 c = self_ipis;
            lapic_self_ipi(SELF_IPI_VECTOR);
            ok = LAB_WAIT(self_ipis != c, 1000);
            ops++;
        }
    } while ((t = lab_now_us()) < end && ok);
    lab_check(ok, "self-ipi", "lost after %lu", ops);
    report("self-ipi", ops, t - t0);
}

/* xen_version: a hypercall answered on the vCPU thread, no event */
static void bench_hcall(void) {
    u64 ops = 0, t0 = lab_now_us(), end = t0 + phase_ms * 1000, t;
    do {
        for (int i = 0; i < 16; i++) HYPERCALL2(xen_version, XENVER_version, 0);
        ops += 16;
    } while ((t = lab_now_us()) < end);
    report("hcall-version", ops, t - t0);
}

/* EVTCHNOP_send to a port that is already pending: the hypercall without an upcall */
static void bench_send_coalesced(const char *name, u32 port) {
    u64 ops = 0, t0 = lab_now_us(), end = t0 + phase_ms * 1000, t;
    do {
        for (int i = 0; i < 16; i++) xen_evtchn_send(port);
        ops += 16;
    } while ((t = lab_now_us()) < end);
    report(name, ops, t - t0);
}

static void run_mode(const char *prefix) {
    char name[32];
    long u = xen_alloc_unbound(DOMID_SELF, DOMID_SELF);
    long l = xen_bind_interdomain(DOMID_SELF, u);
    lab_mdelay(5); /* the bind raises l once */
    if (!fifo) {
        xen_evtchn_unmask(u);
        xen_evtchn_unmask(l);
    }
    if (!fifo) {
        long m = xen_bind_ipi(0); /* stays masked: every send after the first coalesces */
        bench_send_coalesced("2l-send-coalesced", (u32)m);
    }
    lab_snprintf(name, sizeof name, "%s-loopback", prefix);
    bench_rt(name, (u32)l);
    long p0 = xen_bind_ipi(0);
    long p1 = ap_run(AP_BIND_IPI);
    if (!fifo) {
        xen_evtchn_unmask(p0);
        xen_evtchn_unmask(p1);
    }
    pong_port = (u32)p0;
    ap_hlt = true;
    lab_snprintf(name, sizeof name, "%s-ipi", prefix);
    lab_check(u > 0 && l > 0 && p0 > 0 && p1 > 0, "ports", "u %ld l %ld p0 %ld p1 %ld", u, l, p0, p1);
    bench_rt(name, (u32)p1);
    ap_hlt = false;
    pong_port = 0;
    xen_evtchn_send((u32)p1); /* wake the AP out of hlt */
    lab_mdelay(2);
}

void lab_main(void) {
    lapic_cpu_init();
    lab_set_handler(UPCALL_VECTOR, upcall_handler);
    lab_set_handler(SELF_IPI_VECTOR, self_ipi_handler);
    phase_ms = lab_cmdline_u64("ms", 1000);
    if (!lab_check(xen_init_hypercall_page(hcall_page), "hypercall-page", "no Xen leaves")) lab_done();
    struct xen_add_to_physmap x = {DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, (u64)(uintptr_t)shinfo >> 12};
    lab_check(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x) == 0, "map-shared-info", "failed");
    memset(shinfo + XEN_SHINFO_MASK, 0xff, EVTCHN_2L_NR_CHANNELS / 8);
    vinfo[0] = (volatile struct vcpu_info *)shinfo;
    vinfo[1] = (volatile struct vcpu_info *)(shinfo + 64);
    for (u32 v = 0; v < 2; v++) {
        struct xen_hvm_evtchn_upcall_vector uv = {v, UPCALL_VECTOR};
        HYPERCALL2(hvm_op, HVMOP_set_evtchn_upcall_vector, &uv);
    }
    irq_enable();
    if (!lab_check(lab_acpi.ncpus >= 2 && smp_start_ap(lab_acpi.apic_ids[1], ap_main, 1000), "ap-started", "need 2 vCPUs")) lab_done();
    bench_exit();
    bench_self_ipi();
    bench_hcall();
    run_mode("2l");
    /* the handler switches to the FIFO consumer first: init_control moves pending 2L ports
     * (the masked one above) to FIFO and expand_array raises them at once */
    fifo = true;
    lab_check(xen_fifo_init_control(0, cb_page[0], 0) == 0 && ap_run(AP_INIT_CONTROL) == 0 && xen_fifo_expand_array(array_page) == 0,
              "fifo-init", "init_control/expand_array failed");
    run_mode("fifo");
    bench_exit();
    if (lab_cmdline_u64("shutdown", 0) && lab_fail_count() == 0) {
        u32 reason = SHUTDOWN_poweroff;
        HYPERCALL2(sched_op, SCHEDOP_shutdown, &reason);
    }
    lab_done();
}
