/* xen-evtchn: 2-level event channels as a Xen HVM guest sees them (platform xen-hvm, 2 vCPUs).
 * vCPU0 (BSP) uses its default vcpu_info in shared_info, vCPU1 (the AP) registers one; both
 * get the upcall on a per-vCPU vector and scan the 2-level bitmaps for the ports they own.
 * Scenarios, each with exact counts: delivery, masking and re-delivery on EVTCHNOP_unmask,
 * IPIs both ways, VIRQ_TIMER from the singleshot timer (both vCPUs) and the periodic one,
 * loopback interdomain (alloc_unbound + bind_interdomain, sends both ways, close), bind_vcpu
 * moving a pending port (masked, and unmasked while vCPU0 has interrupts off), SCHEDOP_poll
 * (ready, timeout, a masked port woken by the other vCPU's send) and every error path with
 * its errno. Ends with "LAB-INFO evtchn-port name=.. port=.. vcpu=.. hits=.." lines the
 * integration test compares with the VMM's per-port statistics. */
#include "xen.h"
#include "apcmd.h"

LAB_GUEST("xen-evtchn");

#define UPCALL_VECTOR 0xf3
#define MAXP 256 /* ports counted per vCPU */

static u8 hcall_page[4096] __attribute__((aligned(4096)));
static u8 shinfo[4096] __attribute__((aligned(4096)));
static u8 vi1_page[4096] __attribute__((aligned(4096)));
static volatile struct vcpu_info *vinfo[2];
static volatile u64 mine[2][64];       /* ports each vCPU handles (the guest's own binding record) */
static volatile u32 hits[2][MAXP];     /* events handled, per vCPU and port */
static volatile u32 upcalls[2];

static u32 cpu(void) { return lab_cpu_index() ? 1 : 0; }

static void own(u32 port, u32 vcpu) {
    __atomic_fetch_and(&mine[vcpu ^ 1][port / 64], ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
    __atomic_fetch_or(&mine[vcpu][port / 64], 1ull << (port % 64), __ATOMIC_SEQ_CST);
}

/* A new port: handled by `vcpu`, then unmasked (every port starts masked, as in Linux, so an
 * event raised before the guest recorded the binding is delivered on unmask, not lost). */
static void bind_done(long port, u32 vcpu) {
    own(port, vcpu);
    xen_evtchn_unmask(port);
}

/* Close a port the guest used: masked first (as Linux does), so its next user starts masked. */
static long close_port(long port) {
    xen_2l_mask(shinfo, (u32)port);
    return xen_evtchn_close((u32)port);
}

static void on_port(u32 port) {
    if (port < MAXP) __atomic_fetch_add(&hits[cpu()][port], 1, __ATOMIC_SEQ_CST);
}

static void upcall_handler(struct lab_frame *f) {
    u32 c = cpu();
    __atomic_fetch_add(&upcalls[c], 1, __ATOMIC_SEQ_CST);
    if (vinfo[c]) xen_2l_scan(shinfo, vinfo[c], mine[c], on_port);
    lapic_eoi();
}

static u32 H(u32 vcpu, long port) { return port > 0 && port < MAXP ? hits[vcpu][port] : 0xdead; }
/* Wait until hits[vcpu][port] == want, then make sure it stays there for `settle_ms`. */
static bool hits_are(u32 vcpu, long port, u32 want, u32 settle_ms) {
    if (!LAB_WAIT(H(vcpu, port) >= want, 1000)) return false;
    lab_mdelay(settle_ms);
    return H(vcpu, port) == want;
}

/* ---- the AP runs commands posted by the BSP ---- */
enum { AP_IDLE, AP_SEND, AP_SEND_AFTER, AP_BIND_IPI, AP_BIND_VIRQ, AP_ONESHOT, AP_REGISTER };

static long ap_exec(u32 cmd, u32 a, u32 b) {
    switch (cmd) {
    case AP_SEND: return xen_evtchn_send(a);
    case AP_SEND_AFTER: lab_mdelay(b); return xen_evtchn_send(a);
    case AP_BIND_IPI: return xen_bind_ipi(a);
    case AP_BIND_VIRQ: return xen_bind_virq(a, b);
    case AP_ONESHOT: {
        struct vcpu_set_singleshot_timer t = {1, 0}; /* long past, no "future" flag: fires at once */
        return HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, 1, &t);
    }
    case AP_REGISTER: {
        struct vcpu_register_vcpu_info ri = {(u64)(uintptr_t)vi1_page >> 12, 0x40, 0};
        vinfo[1] = (volatile struct vcpu_info *)(vi1_page + 0x40);
        long r = HYPERCALL3(vcpu_op, VCPUOP_register_vcpu_info, 1, &ri);
        if (r) vinfo[1] = (volatile struct vcpu_info *)(shinfo + 64);
        return r;
    }
    }
    return -1;
}

static void ap_main(u32 index, u32 apic_id) {
    (void)index;
    (void)apic_id;
    apcmd_serve(ap_exec);
}

/* ---- scenarios ---- */
static long port_a, port_b, port_c, port_t0, port_t1, port_u, port_l;
static u64 sys_offset; /* Xen system time - lab_now_us() * 1000, measured before VIRQ_TIMER is bound */
static u64 sys_now(void) { return lab_now_us() * 1000 + sys_offset; }

static bool setup(void) {
    struct xen_add_to_physmap x = {DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, (u64)(uintptr_t)shinfo >> 12};
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), 0, "map-shared-info");
    memset(shinfo + XEN_SHINFO_MASK, 0xff, EVTCHN_2L_NR_CHANNELS / 8); /* all ports masked */
    vinfo[0] = (volatile struct vcpu_info *)shinfo; /* default slot of vCPU0 */
    vinfo[1] = (volatile struct vcpu_info *)(shinfo + 64);
    for (u32 v = 0; v < 2; v++) {
        struct xen_hvm_evtchn_upcall_vector uv = {v, UPCALL_VECTOR};
        EXPECT(HYPERCALL2(hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), 0, v ? "upcall-vector-vcpu1" : "upcall-vector-vcpu0");
    }
    irq_enable();
    /* probing arms singleshot timers: done while no VIRQ_TIMER is bound, so none lands */
    sys_offset = xen_system_time_ns(0) - lab_now_us() * 1000;
    /* vcpu_time_info (pvclock) in both default slots agrees with the probed system time */
    /* vcpu_time_info (pvclock) of both default slots, checked against the hypervisor's own
     * clock: a singleshot deadline 1 ms before pvclock "now" is already past (-ETIME), one
     * 50 ms after it is not (the margin absorbs a slow forwarded hypercall on a loaded host). */
    for (u32 v = 0; v < 2; v++) {
        u64 pv = 0;
        bool ok = xen_pvclock_ns(vinfo[v], &pv);
        struct vcpu_set_singleshot_timer past = {pv - 1000000ull, VCPU_SSHOTTMR_future};
        long rp = HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, 0, &past);
        ok = ok && xen_pvclock_ns(vinfo[v], &pv);
        struct vcpu_set_singleshot_timer later = {pv + 50000000ull, VCPU_SSHOTTMR_future};
        long rl = HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, 0, &later);
        HYPERCALL3(vcpu_op, VCPUOP_stop_singleshot_timer, 0, 0);
        lab_info("pvclock vcpu%u: %ld ns from the probed system time", v, (long)(i64)(pv - sys_now()));
        lab_check(ok && rp == -XEN_ETIME && rl == 0, v ? "pvclock-vcpu1" : "pvclock-vcpu0", "ok %d past %ld later %ld", ok, rp, rl);
    }
    lab_check(vinfo[0]->arch_and_time[0x20 - 0x10 + 29] & XEN_PVCLOCK_TSC_STABLE, "pvclock-tsc-stable", "flags %#x", vinfo[0]->arch_and_time[0x20 - 0x10 + 29]);
    if (!lab_check(lab_acpi.ncpus >= 2, "two-vcpus", "%u CPUs in the MADT", lab_acpi.ncpus)) return false;
    if (!lab_check(smp_start_ap(lab_acpi.apic_ids[1], ap_main, 1000), "ap-started", "AP did not start")) return false;
    EXPECT(apcmd_run(AP_REGISTER, 0, 0), 0, "vcpu1-register-vcpu-info");
    lab_check(LAB_WAIT(upcalls[1] == 1, 1000), "vcpu1-forced-upcall", "upcalls on vCPU1: %u", upcalls[1]);
    return true;
}

static void scenario_delivery_and_mask(void) {
    port_a = xen_bind_ipi(0);
    lab_check(port_a > 0, "bind-ipi-vcpu0", "rc %ld", port_a);
    bind_done(port_a, 0);
    u32 up0 = upcalls[0];
    EXPECT(xen_evtchn_send(port_a), 0, "send-a");
    lab_check(hits_are(0, port_a, 1, 5) && upcalls[0] == up0 + 1, "deliver-once", "hits %u upcalls +%u", H(0, port_a), upcalls[0] - up0);
    for (int i = 0; i < 3; i++) {
        xen_evtchn_send(port_a);
        LAB_WAIT(H(0, port_a) == (u32)(2 + i), 500);
    }
    lab_check(hits_are(0, port_a, 4, 5), "deliver-four", "hits %u", H(0, port_a));
    /* masked: stays pending, a second send coalesces; EVTCHNOP_unmask delivers exactly once */
    xen_2l_mask(shinfo, port_a);
    EXPECT(xen_evtchn_send(port_a), 0, "send-masked");
    EXPECT(xen_evtchn_send(port_a), 0, "send-masked-again");
    lab_mdelay(20);
    lab_check(H(0, port_a) == 4 && xen_2l_pending(shinfo, port_a), "masked-held", "hits %u pending %d", H(0, port_a), xen_2l_pending(shinfo, port_a));
    EXPECT(xen_evtchn_unmask(port_a), 0, "unmask");
    lab_check(hits_are(0, port_a, 5, 20), "unmask-redelivers-once", "hits %u", H(0, port_a));
    EXPECT(xen_evtchn_unmask(port_a), 0, "unmask-again-noop");
    lab_check(hits_are(0, port_a, 5, 10), "unmask-again-nothing", "hits %u", H(0, port_a));
}

static void scenario_ipi(void) {
    port_b = apcmd_run(AP_BIND_IPI, 1, 0);
    lab_check(port_b > 0, "bind-ipi-vcpu1", "rc %ld", port_b);
    bind_done(port_b, 1);
    port_c = xen_bind_ipi(0);
    bind_done(port_c, 0);
    for (u32 i = 1; i <= 10; i++) {
        xen_evtchn_send(port_b);
        LAB_WAIT(H(1, port_b) == i, 500);
        apcmd_run(AP_SEND, port_c, 0);
        LAB_WAIT(H(0, port_c) == i, 500);
    }
    lab_check(hits_are(1, port_b, 10, 10) && H(0, port_b) == 0, "ipi-to-vcpu1", "vcpu1 %u vcpu0 %u", H(1, port_b), H(0, port_b));
    lab_check(hits_are(0, port_c, 10, 10) && H(1, port_c) == 0, "ipi-to-vcpu0", "vcpu0 %u vcpu1 %u", H(0, port_c), H(1, port_c));
}

static void scenario_timer(void) {
    port_t0 = xen_bind_virq(VIRQ_TIMER, 0);
    lab_check(port_t0 > 0, "bind-virq-timer-vcpu0", "rc %ld", port_t0);
    bind_done(port_t0, 0);
    EXPECT(xen_bind_virq(VIRQ_TIMER, 0), -XEN_EEXIST, "bind-virq-twice-eexist");
    u64 now = sys_now();
    struct vcpu_set_singleshot_timer t = {now + 20000000ull, VCPU_SSHOTTMR_future};
    u64 t0 = lab_now_us();
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, 0, &t), 0, "singleshot-20ms");
    bool got = LAB_WAIT(H(0, port_t0) == 1, 1000);
    u64 dt = lab_now_us() - t0;
    lab_check(got && dt >= 15000, "singleshot-fires-after-deadline", "hits %u after %lu us", H(0, port_t0), dt);
    lab_check(hits_are(0, port_t0, 1, 40), "singleshot-fires-once", "hits %u", H(0, port_t0));
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, 1, &t), -XEN_EINVAL, "singleshot-other-vcpu-einval");
    /* periodic 2 ms: several ticks, none after stop */
    u64 period = 2000000;
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_set_periodic_timer, 0, &period), 0, "periodic-set");
    lab_check(LAB_WAIT(H(0, port_t0) >= 6, 1000), "periodic-ticks", "hits %u", H(0, port_t0));
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), 0, "periodic-stop");
    lab_mdelay(5);
    u32 after = H(0, port_t0);
    lab_check(hits_are(0, port_t0, after, 30), "periodic-stopped", "hits %u -> %u", after, H(0, port_t0));
    /* vCPU1's own VIRQ_TIMER */
    port_t1 = apcmd_run(AP_BIND_VIRQ, VIRQ_TIMER, 1);
    lab_check(port_t1 > 0 && port_t1 != port_t0, "bind-virq-timer-vcpu1", "rc %ld", port_t1);
    bind_done(port_t1, 1);
    EXPECT(apcmd_run(AP_ONESHOT, 0, 0), 0, "vcpu1-singleshot");
    lab_check(hits_are(1, port_t1, 1, 20) && H(0, port_t1) == 0, "vcpu1-timer-once", "vcpu1 %u vcpu0 %u", H(1, port_t1), H(0, port_t1));
}

static void scenario_loopback(void) {
    port_u = xen_alloc_unbound(DOMID_SELF, DOMID_SELF);
    lab_check(port_u > 0, "alloc-unbound", "rc %ld", port_u);
    bind_done(port_u, 0);
    struct evtchn_status st = {DOMID_SELF, (u32)port_u, 0, 0, 0, 0};
    EXPECT(xen_evtchn_op(EVTCHNOP_status, &st), 0, "status-unbound");
    lab_check(st.status == EVTCHNSTAT_unbound, "status-unbound-state", "status %u", st.status);
    EXPECT(xen_evtchn_send(port_u), 0, "send-unbound-dropped");
    /* the new local port is bound to vCPU0 and raised once on bind (Xen does) */
    port_l = xen_bind_interdomain(DOMID_SELF, port_u);
    lab_check(port_l > 0, "bind-interdomain", "rc %ld", port_l);
    bind_done(port_l, 0);
    lab_check(hits_are(0, port_l, 1, 5) && H(0, port_u) == 0, "bind-interdomain-raises-local", "L %u U %u", H(0, port_l), H(0, port_u));
    for (u32 i = 1; i <= 5; i++) {
        xen_evtchn_send(port_l);
        LAB_WAIT(H(0, port_u) == i, 500);
        apcmd_run(AP_SEND, port_u, 0); /* the other direction, from the other vCPU */
        LAB_WAIT(H(0, port_l) == 1 + i, 500);
    }
    lab_check(hits_are(0, port_u, 5, 10), "loopback-l-to-u", "U %u", H(0, port_u));
    lab_check(hits_are(0, port_l, 6, 10), "loopback-u-to-l", "L %u", H(0, port_l));
    st.port = port_u;
    EXPECT(xen_evtchn_op(EVTCHNOP_status, &st), 0, "status-interdomain");
    lab_check(st.status == EVTCHNSTAT_interdomain && st.u1 == (u32)port_l && st.u0 == 0, "status-interdomain-peer",
              "status %u dom %u port %u", st.status, st.u0, st.u1);
    EXPECT(xen_bind_interdomain(DOMID_SELF, port_u), -XEN_EINVAL, "bind-interdomain-bound-einval");
    EXPECT(xen_bind_interdomain(5, port_u), -XEN_ESRCH, "bind-interdomain-domid-esrch");
    EXPECT(xen_bind_interdomain(DOMID_SELF, 5000), -XEN_EINVAL, "bind-interdomain-range-einval");
    EXPECT(xen_bind_interdomain(DOMID_SELF, port_a), -XEN_EINVAL, "bind-interdomain-ipi-einval");
    /* to itself: the port it would get is the one it names (lowest free after a close) */
    long self = xen_alloc_unbound(DOMID_SELF, DOMID_SELF);
    EXPECT(close_port(self), 0, "close-unbound");
    EXPECT(xen_bind_interdomain(DOMID_SELF, self), -XEN_EINVAL, "bind-interdomain-itself-einval");
}

static void scenario_bind_vcpu(void) {
    long u = xen_alloc_unbound(DOMID_SELF, DOMID_SELF);
    own(u, 0); /* stays masked */
    long l = xen_bind_interdomain(DOMID_SELF, u);
    bind_done(l, 0);
    lab_check(u > 0 && l > 0 && hits_are(0, l, 1, 5), "bind-vcpu-pair", "u %ld l %ld", u, l);
    EXPECT(xen_evtchn_send(l), 0, "bind-vcpu-send-masked");
    own(u, 1);
    EXPECT(xen_bind_vcpu(u, 1), 0, "bind-vcpu-masked-pending");
    lab_mdelay(10);
    lab_check(H(0, u) == 0 && H(1, u) == 0 && xen_2l_pending(shinfo, u), "bind-vcpu-still-masked", "v0 %u v1 %u", H(0, u), H(1, u));
    EXPECT(xen_evtchn_unmask(u), 0, "bind-vcpu-unmask");
    lab_check(hits_are(1, u, 1, 10) && H(0, u) == 0, "bind-vcpu-delivered-on-new-vcpu", "v1 %u v0 %u", H(1, u), H(0, u));
    /* unmasked and pending on vCPU0 (interrupts off there) when moved: vCPU1 gets it */
    own(u, 0);
    EXPECT(xen_bind_vcpu(u, 0), 0, "bind-vcpu-back");
    irq_disable();
    xen_evtchn_send(l);
    lab_udelay(2000);
    bool held = xen_2l_pending(shinfo, u) && H(0, u) == 0;
    own(u, 1);
    long r = xen_bind_vcpu(u, 1);
    bool moved = LAB_WAIT(H(1, u) == 2, 1000);
    irq_enable();
    lab_check(held && r == 0 && moved, "bind-vcpu-moves-pending", "held %d rc %ld v1 %u", held, r, H(1, u));
    lab_check(hits_are(1, u, 2, 10) && H(0, u) == 0, "bind-vcpu-no-duplicate", "v1 %u v0 %u", H(1, u), H(0, u));
    EXPECT(xen_bind_vcpu(port_a, 1), -XEN_EINVAL, "bind-vcpu-ipi-einval");
    EXPECT(xen_bind_vcpu(port_t0, 1), -XEN_EINVAL, "bind-vcpu-percpu-virq-einval");
    EXPECT(xen_bind_vcpu(u, 9), -XEN_ENOENT, "bind-vcpu-vcpu-enoent");
    EXPECT(xen_bind_vcpu(5000, 0), -XEN_EINVAL, "bind-vcpu-range-einval");
    long con = xen_bind_virq(VIRQ_CONSOLE, 0);
    lab_check(con > 0, "bind-virq-global", "rc %ld", con);
    EXPECT(xen_bind_vcpu(con, 1), 0, "bind-vcpu-global-virq");
    EXPECT(close_port(con), 0, "close-virq");
    EXPECT(close_port(l), 0, "close-pair-l");
    EXPECT(close_port(u), 0, "close-pair-u");
}

static long poll1(u32 port, u64 timeout) {
    u32 ports[1] = {port};
    struct sched_poll sp = {(u64)(uintptr_t)ports, 1, timeout};
    return HYPERCALL2(sched_op, SCHEDOP_poll, &sp);
}

static void scenario_poll(void) {
    long p = xen_bind_ipi(0);
    own(p, 0); /* stays masked */
    u64 now = sys_now();
    u64 t0 = lab_now_us();
    EXPECT(poll1(p, now + 30000000ull), 0, "poll-timeout");
    u64 dt = lab_now_us() - t0;
    lab_check(dt >= 25000 && dt < 1000000, "poll-timeout-waited", "%lu us", dt);
    xen_evtchn_send(p);
    t0 = lab_now_us();
    EXPECT(poll1(p, 0), 0, "poll-ready");
    lab_check(lab_now_us() - t0 < 20000, "poll-ready-immediate", "%lu us", lab_now_us() - t0);
    close_port(p);
    p = xen_bind_ipi(0);
    own(p, 0); /* stays masked */
    apcmd_post(AP_SEND_AFTER, p, 30);
    now = sys_now();
    t0 = lab_now_us();
    EXPECT(poll1(p, now + 5000000000ull), 0, "poll-masked-woken");
    dt = lab_now_us() - t0;
    EXPECT(apcmd_wait(2000), 0, "poll-masked-send");
    lab_check(dt >= 10000 && dt < 1000000 && xen_2l_pending(shinfo, p) && H(0, p) == 0, "poll-woken-by-send",
              "%lu us pending %d hits %u", dt, xen_2l_pending(shinfo, p), H(0, p));
    EXPECT(poll1(5000, 0), -XEN_EINVAL, "poll-port-range-einval");
    EXPECT(close_port(p), 0, "poll-close");
}

static void scenario_errors(void) {
    long v = port_t0;
    EXPECT(xen_evtchn_send(v), -XEN_EINVAL, "send-virq-einval");
    EXPECT(xen_evtchn_send(5000), -XEN_EINVAL, "send-range-einval");
    EXPECT(xen_evtchn_send(0), -XEN_EINVAL, "send-port0-einval");
    EXPECT(xen_evtchn_send(4000), -XEN_EINVAL, "send-free-einval");
    EXPECT(xen_evtchn_close(4000), -XEN_EINVAL, "close-free-einval");
    EXPECT(xen_evtchn_close(5000), -XEN_EINVAL, "close-range-einval");
    EXPECT(xen_evtchn_close(0), -XEN_EINVAL, "close-port0-einval");
    EXPECT(xen_evtchn_unmask(5000), -XEN_EINVAL, "unmask-range-einval");
    EXPECT(xen_bind_virq(NR_VIRQS, 0), -XEN_EINVAL, "bind-virq-range-einval");
    EXPECT(xen_bind_virq(VIRQ_TIMER, 7), -XEN_ENOENT, "bind-virq-vcpu-enoent");
    EXPECT(xen_bind_virq(VIRQ_CONSOLE, 1), -XEN_EINVAL, "bind-virq-global-vcpu1-einval");
    EXPECT(xen_bind_ipi(9), -XEN_ENOENT, "bind-ipi-vcpu-enoent");
    EXPECT(xen_alloc_unbound(5, DOMID_SELF), -XEN_ESRCH, "alloc-unbound-dom-esrch");
    EXPECT(xen_alloc_unbound(DOMID_SELF, 5), -XEN_EPERM, "alloc-unbound-remote-eperm");
    struct evtchn_status st = {DOMID_SELF, 5000, 0, 0, 0, 0};
    EXPECT(xen_evtchn_op(EVTCHNOP_status, &st), -XEN_EINVAL, "status-range-einval");
    st.dom = 5;
    st.port = port_a;
    EXPECT(xen_evtchn_op(EVTCHNOP_status, &st), -XEN_ESRCH, "status-dom-esrch");
    st.dom = DOMID_SELF;
    EXPECT(xen_evtchn_op(EVTCHNOP_status, &st), 0, "status-ipi");
    lab_check(st.status == EVTCHNSTAT_ipi && st.vcpu == 0, "status-ipi-fields", "status %u vcpu %u", st.status, st.vcpu);
    st.port = port_t0;
    EXPECT(xen_evtchn_op(EVTCHNOP_status, &st), 0, "status-virq");
    lab_check(st.status == EVTCHNSTAT_virq && st.u0 == VIRQ_TIMER, "status-virq-fields", "status %u virq %u", st.status, st.u0);
    u16 dom = 5;
    EXPECT(xen_evtchn_op(EVTCHNOP_reset, &dom), -XEN_ESRCH, "reset-dom-esrch");
    EXPECT(xen_evtchn_op(EVTCHNOP_send, (void *)0x8000000000ull), -XEN_EFAULT, "send-efault");
    EXPECT(xen_evtchn_op(EVTCHNOP_bind_ipi, (void *)0x8000000000ull), -XEN_EFAULT, "bind-ipi-efault");
    EXPECT(xen_evtchn_op(99, &st), -XEN_ENOSYS, "evtchn-op-unknown-enosys");
}

static void report(const char *name, long port, u32 vcpu) {
    lab_info("evtchn-port name=%s port=%ld vcpu=%u hits=%u", name, port, vcpu, H(vcpu, port));
}

void lab_main(void) {
    lapic_cpu_init();
    lab_set_handler(UPCALL_VECTOR, upcall_handler);
    if (!lab_check(xen_init_hypercall_page(hcall_page), "hypercall-page", "no Xen leaves or MSR write faulted")) lab_done();
    if (!setup()) lab_done();
    scenario_delivery_and_mask();
    scenario_ipi();
    scenario_timer();
    scenario_loopback();
    scenario_bind_vcpu();
    scenario_poll();
    scenario_errors();
    report("ipi-a", port_a, 0);
    report("ipi-b", port_b, 1);
    report("ipi-c", port_c, 0);
    report("timer0", port_t0, 0);
    report("timer1", port_t1, 1);
    report("loop-u", port_u, 0);
    report("loop-l", port_l, 0);
    lab_info("evtchn upcalls vcpu0=%u vcpu1=%u", upcalls[0], upcalls[1]);
    if (lab_cmdline_u64("shutdown", 0) && lab_fail_count() == 0) {
        lab_info("all checks done pass=%u fail=0, powering off", lab_pass_count());
        u32 reason = SHUTDOWN_poweroff;
        HYPERCALL2(sched_op, SCHEDOP_shutdown, &reason);
    }
    lab_done();
}
