/* xen-hello: the Xen HVM platform as a guest sees it (platform xen-hvm). Finds the Xen CPUID
 * leaves, sets up the hypercall page (and the #GP cases of the MSR), then checks
 * xen_version, add_to_physmap(shared_info), HVM params, the per-vCPU upcall vector,
 * register_vcpu_info (the forced upcall arrives), console_io, vcpu/sched ops, and hostile
 * calls with bad pointers (unmapped, non-canonical, MMIO, crossing the end of RAM), each
 * with its exact errno. `shutdown=1` ends with SCHEDOP_shutdown(poweroff) instead of the
 * debug-exit port. */
#include "xen.h"

LAB_GUEST("xen-hello");

#define UPCALL_VECTOR 0xf3

static u8 hcall_page[4096] __attribute__((aligned(4096)));
static u8 shinfo_page[4096] __attribute__((aligned(4096)));
static u8 vcpu_info_page[4096] __attribute__((aligned(4096)));
static volatile u32 upcalls;
static volatile struct vcpu_info *my_vcpu_info;

static void upcall_handler(struct lab_frame *f) {
    upcalls++;
    if (my_vcpu_info) my_vcpu_info->evtchn_upcall_pending = 0;
    lapic_eoi();
}

static u64 ram_end(void) {
    u64 end = 0;
    for (u32 i = 0; i < lab_boot.nr_ranges; i++)
        if (lab_boot.ranges[i].type == 1 && lab_boot.ranges[i].addr + lab_boot.ranges[i].size > end)
            end = lab_boot.ranges[i].addr + lab_boot.ranges[i].size;
    return end;
}

static void check_cpuid(u32 base) {
    u32 a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(base + 1), "c"(0));
    lab_check(a == 0x40011, "cpuid-version", "version 0x%x", a);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(base + 2), "c"(0));
    lab_check(a == 1 && b == 0x40000000, "cpuid-hypercall-msr", "pages %u msr 0x%x", a, b);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(base + 4), "c"(0));
    lab_check((a & 0x5c) == 0x5c && b == lapic_id() && c == 0, "cpuid-hvm-features",
              "eax 0x%x vcpu %u domid %u", a, b, c);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000100), "c"(0));
    lab_check(b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d && a >= 0x40000101, "cpuid-kvm-moved",
              "0x40000100: eax 0x%x ebx 0x%x", a, b);
}

static void check_hypercall_page(void) {
    lab_check(xen_wrmsr_faults(0x40000000, (u64)(uintptr_t)hcall_page | 1), "msr-index-gp",
              "index 1 did not #GP");
    lab_check(xen_wrmsr_faults(0x40000000, 0xfee00000ull), "msr-mmio-gp", "LAPIC page did not #GP");
    lab_check(lab_fault_last_vector == 13, "msr-gp-vector", "vector %u", lab_fault_last_vector);
    lab_check(xen_init_hypercall_page(hcall_page), "hypercall-page", "MSR write faulted");
    lab_check(hcall_page[17 * 32] == 0xb8 && hcall_page[17 * 32 + 1] == 17 &&
              hcall_page[23 * 32] == 0x0f && hcall_page[23 * 32 + 1] == 0x0b && hcall_page[4095] == 0xcc,
              "hypercall-page-stubs", "unexpected page contents");
    EXPECT(xen_rdmsr(0x40000000), 0, "msr-read-zero");
}

static void check_version(u64 end) {
    EXPECT(HYPERCALL2(xen_version, XENVER_version, 0), 0x40011, "xen-version");
    struct xen_feature_info fi = {0, 0};
    EXPECT(HYPERCALL2(xen_version, XENVER_get_features, &fi), 0, "get-features");
    lab_check(fi.submap == 0x70f, "features-submap0", "submap 0x%x", fi.submap);
    fi.submap_idx = 1;
    EXPECT(HYPERCALL2(xen_version, XENVER_get_features, &fi), -XEN_EINVAL, "get-features-idx1-einval");
    EXPECT(HYPERCALL2(xen_version, 99, 0), -XEN_ENOSYS, "xen-version-bad-cmd");
    EXPECT(xen_hypercall(60, 0, 0, 0, 0, 0), -XEN_ENOSYS, "unknown-hypercall-enosys");
    /* hostile pointers */
    EXPECT(HYPERCALL2(xen_version, XENVER_get_features, 0x8000000000ull), -XEN_EFAULT, "efault-unmapped");
    EXPECT(HYPERCALL2(xen_version, XENVER_get_features, 0x8000000000000000ull), -XEN_EFAULT, "efault-noncanonical");
    EXPECT(HYPERCALL2(xen_version, XENVER_get_features, 0xfee00000ull), -XEN_EFAULT, "efault-mmio");
    EXPECT(HYPERCALL2(xen_version, XENVER_get_features, end - 4), -XEN_EFAULT, "efault-crossing-end-of-ram");
}

static void check_shared_info(void) {
    struct xen_add_to_physmap x = {DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, (u64)(uintptr_t)shinfo_page >> 12};
    x.idx = 1;
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), -XEN_EINVAL, "physmap-idx-einval");
    x.idx = 0;
    x.domid = 5;
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), -XEN_ESRCH, "physmap-domid-esrch");
    x.domid = DOMID_SELF;
    x.space = XENMAPSPACE_gmfn;
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), -XEN_EOPNOTSUPP, "physmap-space-eopnotsupp");
    x.space = XENMAPSPACE_shared_info;
    x.gpfn = 0xfee00;
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), -XEN_EINVAL, "physmap-mmio-einval");
    x.gpfn = (u64)(uintptr_t)shinfo_page >> 12;
    for (u32 i = 0; i < 4096; i++) shinfo_page[i] = 0x5a;
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), 0, "physmap-shared-info");
    volatile u32 *wc = (volatile u32 *)(shinfo_page + 0xc00);
    lab_check((wc[0] & 1) == 0 && wc[0] != 0 && wc[1] > 1600000000u, "wallclock",
              "wc_version %u wc_sec %u", wc[0], wc[1]);
    lab_check(shinfo_page[0x800] == 0 && shinfo_page[0] == 0, "shared-info-zeroed", "page not initialised");
    EXPECT(HYPERCALL2(memory_op, 99, &x), -XEN_ENOSYS, "memory-op-bad-cmd");
}

static void check_hvm_and_vcpu_info(void) {
    struct xen_hvm_evtchn_upcall_vector uv = {0, 0x05};
    EXPECT(HYPERCALL2(hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), -XEN_EINVAL, "upcall-vector-low-einval");
    uv.vcpu = 99;
    uv.vector = UPCALL_VECTOR;
    EXPECT(HYPERCALL2(hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), -XEN_ENOENT, "upcall-vector-vcpu-enoent");
    uv.vcpu = lapic_id();
    EXPECT(HYPERCALL2(hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), 0, "upcall-vector");
    /* Linux's CALLBACK_IRQ = 1 quirk: stored, ignored while per-vCPU vectors are in use */
    struct xen_hvm_param p = {DOMID_SELF, 0, HVM_PARAM_CALLBACK_IRQ, 1};
    EXPECT(HYPERCALL2(hvm_op, HVMOP_set_param, &p), 0, "callback-irq-set");
    p.value = 0;
    EXPECT(HYPERCALL2(hvm_op, HVMOP_get_param, &p), 0, "callback-irq-get");
    lab_check(p.value == 1, "callback-irq-value", "value %lu", p.value);
    p.domid = 9;
    EXPECT(HYPERCALL2(hvm_op, HVMOP_get_param, &p), -XEN_ESRCH, "param-domid-esrch");
    p.domid = DOMID_SELF;
    p.index = 1000;
    EXPECT(HYPERCALL2(hvm_op, HVMOP_set_param, &p), -XEN_EINVAL, "param-index-einval");
    EXPECT(HYPERCALL2(hvm_op, 77, &p), -XEN_ENOSYS, "hvm-op-bad-cmd");

    struct vcpu_register_vcpu_info ri = {(u64)(uintptr_t)vcpu_info_page >> 12, 4096 - 32, 0};
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), -XEN_ENXIO, "vcpu-info-crossing-enxio");
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_register_vcpu_info, 99, &ri), -XEN_ENOENT, "vcpu-info-vcpu-enoent");
    ri.offset = 0x100;
    my_vcpu_info = (volatile struct vcpu_info *)(vcpu_info_page + 0x100);
    __asm__ volatile("sti");
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), 0, "vcpu-info-register");
    lab_check(LAB_WAIT(upcalls >= 1, 1000), "vcpu-info-forced-upcall", "no upcall on vector 0x%x", UPCALL_VECTOR);
    lab_check(my_vcpu_info->evtchn_pending_sel == ~0ull, "vcpu-info-pending-sel", "pending_sel 0x%lx",
              my_vcpu_info->evtchn_pending_sel);
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_register_vcpu_info, 0, &ri), -XEN_EBUSY, "vcpu-info-again-ebusy");
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_is_up, 0, 0), 1, "vcpu-is-up");
    struct vcpu_set_singleshot_timer st = {1, VCPU_SSHOTTMR_future};
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, 0, &st), -XEN_ETIME, "singleshot-past-etime");
    u64 period = 1000;
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_set_periodic_timer, 0, &period), -XEN_EINVAL, "periodic-short-einval");
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), 0, "periodic-stop");
    EXPECT(HYPERCALL3(vcpu_op, 55, 0, 0), -XEN_ENOSYS, "vcpu-op-bad-cmd");
}

static void check_misc(void) {
    static const char msg[] = "hello from xen-hello over console_io\n";
    EXPECT(HYPERCALL3(console_io, CONSOLEIO_write, sizeof(msg) - 1, msg), 0, "console-write");
    EXPECT(HYPERCALL3(console_io, CONSOLEIO_write, 16, 0xfee00000ull), -XEN_EFAULT, "console-write-efault");
    EXPECT(HYPERCALL3(console_io, CONSOLEIO_read, 16, msg), -XEN_EPERM, "console-read-eperm");
    EXPECT(HYPERCALL2(sched_op, SCHEDOP_yield, 0), 0, "sched-yield");
    u32 ports[1] = {5};
    struct sched_poll sp = {(u64)(uintptr_t)ports, 200, 0};
    EXPECT(HYPERCALL2(sched_op, SCHEDOP_poll, &sp), -XEN_EINVAL, "poll-too-many-einval");
    sp.nr_ports = 1;
    sp.timeout = 1; /* system time 1 ns: already past */
    EXPECT(HYPERCALL2(sched_op, SCHEDOP_poll, &sp), 0, "poll-timeout");
    sp.ports = 0x8000000000ull;
    EXPECT(HYPERCALL2(sched_op, SCHEDOP_poll, &sp), -XEN_EFAULT, "poll-ports-efault");
    u32 reason = SHUTDOWN_suspend;
    EXPECT(HYPERCALL2(sched_op, SCHEDOP_shutdown, &reason), -XEN_EINVAL, "shutdown-suspend-einval");
    EXPECT(HYPERCALL2(sched_op, SCHEDOP_shutdown, 0x8000000000ull), -XEN_EFAULT, "shutdown-efault");
    EXPECT(HYPERCALL2(event_channel_op, 999, 0), -XEN_ENOSYS, "evtchn-op-bad-cmd");
    EXPECT(HYPERCALL1(set_timer_op, 0), 0, "set-timer-op-stop");
}

void lab_main(void) {
    lapic_cpu_init();
    lab_set_handler(UPCALL_VECTOR, upcall_handler);
    u32 base = xen_cpuid_base();
    lab_check(base == 0x40000000, "cpuid-base", "Xen leaves at 0x%x", base);
    if (!base) lab_done();
    check_cpuid(base);
    check_hypercall_page();
    if (!xen_hypercall_page) lab_done();
    check_version(ram_end());
    check_shared_info();
    check_hvm_and_vcpu_info();
    check_misc();
    if (lab_cmdline_u64("shutdown", 0) && lab_fail_count() == 0) {
        lab_info("all checks done pass=%u fail=0, powering off", lab_pass_count());
        u32 reason = SHUTDOWN_poweroff;
        HYPERCALL2(sched_op, SCHEDOP_shutdown, &reason);
        lab_fail("shutdown-returned", "SCHEDOP_shutdown(poweroff) returned");
    }
    lab_done();
}
