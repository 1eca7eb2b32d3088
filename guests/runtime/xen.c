/* Xen HVM guest helpers: CPUID leaf discovery, hypercall page, hypercalls (see xen.h). */
#include "xen.h"

u8 *xen_hypercall_page;

static void cpuid4(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

u32 xen_cpuid_base(void) {
    for (u32 base = XEN_CPUID_FIRST; base <= XEN_CPUID_LAST; base += 0x100) {
        u32 a, b, c, d;
        cpuid4(base, &a, &b, &c, &d);
        /* "XenVMMXenVMM" */
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e && a >= base + 2) return base;
    }
    return 0;
}

bool xen_wrmsr_faults(u32 msr, u64 value) {
    u32 before = lab_fault_count;
    __asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
                     "movq %%r11, lab_fault_resume(%%rip)\n\t"
                     "wrmsr\n"
                     "1:\n\t"
                     "movq $0, lab_fault_resume(%%rip)"
                     :: "c"(msr), "a"((u32)value), "d"((u32)(value >> 32)) : "r11", "memory");
    return lab_fault_count != before;
}

u64 xen_rdmsr(u32 msr) {
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

bool xen_init_hypercall_page(void *page) {
    u32 base = xen_cpuid_base();
    if (!base) return false;
    u32 a, b, c, d;
    cpuid4(base + 2, &a, &b, &c, &d);
    if (xen_wrmsr_faults(b, (u64)(uintptr_t)page)) return false;
    xen_hypercall_page = page;
    return true;
}

long xen_hypercall(u32 nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
    register u64 r10 __asm__("r10") = a4;
    register u64 r8 __asm__("r8") = a5;
    long ret;
    u64 target = (u64)(uintptr_t)(xen_hypercall_page + nr * 32);
    __asm__ volatile("call *%[t]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                     : [t] "r"(target)
                     : "memory", "rcx", "r9", "r11");
    return ret;
}

/* ---- event channels ---- */
long xen_evtchn_send(u32 port) { return xen_evtchn_op(EVTCHNOP_send, &port); }
long xen_evtchn_unmask(u32 port) { return xen_evtchn_op(EVTCHNOP_unmask, &port); }
long xen_evtchn_close(u32 port) { return xen_evtchn_op(EVTCHNOP_close, &port); }

long xen_bind_ipi(u32 vcpu) {
    struct evtchn_bind_ipi b = {vcpu, 0};
    long r = xen_evtchn_op(EVTCHNOP_bind_ipi, &b);
    return r < 0 ? r : (long)b.port;
}

long xen_bind_virq(u32 virq, u32 vcpu) {
    struct evtchn_bind_virq b = {virq, vcpu, 0};
    long r = xen_evtchn_op(EVTCHNOP_bind_virq, &b);
    return r < 0 ? r : (long)b.port;
}

long xen_alloc_unbound(u16 dom, u16 remote_dom) {
    struct evtchn_alloc_unbound a = {dom, remote_dom, 0};
    long r = xen_evtchn_op(EVTCHNOP_alloc_unbound, &a);
    return r < 0 ? r : (long)a.port;
}

long xen_bind_interdomain(u16 remote_dom, u32 remote_port) {
    struct evtchn_bind_interdomain b = {remote_dom, remote_port, 0};
    long r = xen_evtchn_op(EVTCHNOP_bind_interdomain, &b);
    return r < 0 ? r : (long)b.local_port;
}

long xen_bind_vcpu(u32 port, u32 vcpu) {
    struct evtchn_bind_vcpu b = {port, vcpu};
    return xen_evtchn_op(EVTCHNOP_bind_vcpu, &b);
}

void xen_2l_mask(void *shinfo, u32 port) {
    volatile u64 *m = (volatile u64 *)((u8 *)shinfo + XEN_SHINFO_MASK);
    __atomic_fetch_or(&m[port / 64], 1ull << (port % 64), __ATOMIC_SEQ_CST);
}

bool xen_2l_pending(void *shinfo, u32 port) {
    volatile u64 *p = (volatile u64 *)((u8 *)shinfo + XEN_SHINFO_PENDING);
    return (__atomic_load_n(&p[port / 64], __ATOMIC_SEQ_CST) >> (port % 64)) & 1;
}

u32 xen_2l_scan(void *shinfo, volatile struct vcpu_info *vi, const volatile u64 *mine, void (*fn)(u32 port)) {
    volatile u64 *pending = (volatile u64 *)((u8 *)shinfo + XEN_SHINFO_PENDING);
    volatile u64 *mask = (volatile u64 *)((u8 *)shinfo + XEN_SHINFO_MASK);
    u32 n = 0;
    do {
        vi->evtchn_upcall_pending = 0;
        u64 sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
        while (sel) {
            u32 w = (u32)__builtin_ctzll(sel);
            sel &= sel - 1;
            u64 bits = pending[w] & ~mask[w] & (mine ? mine[w] : ~0ull);
            while (bits) {
                u64 bit = bits & -bits;
                bits &= bits - 1;
                if (__atomic_fetch_and(&pending[w], ~bit, __ATOMIC_SEQ_CST) & bit) {
                    fn(w * 64 + (u32)__builtin_ctzll(bit));
                    n++;
                }
            }
        }
    } while (vi->evtchn_upcall_pending);
    return n;
}

u64 xen_system_time_ns(u32 vcpu) {
    /* Bisect on the offset between Xen system time and the TSC clock (lab_now_us), not on
     * absolute time: both advance while the VM is paused or the vCPU preempted mid-probe, so
     * a bound on the offset stays true where a bound on "now" would go stale. */
    i64 base = (i64)(lab_now_us() * 1000);
    i64 lo = -base - 1, hi = (i64)(1ull << 44) - base; /* system time in [0, ~4.9 h] */
    while (hi - lo > 1000) {
        i64 mid = lo + (hi - lo) / 2;
        i64 at = (i64)(lab_now_us() * 1000) + mid;
        if (at <= 0) {
            lo = mid;
            continue;
        }
        struct vcpu_set_singleshot_timer t = {(u64)at, VCPU_SSHOTTMR_future};
        if (HYPERCALL3(vcpu_op, VCPUOP_set_singleshot_timer, vcpu, &t) == -XEN_ETIME) lo = mid;
        else hi = mid;
    }
    HYPERCALL3(vcpu_op, VCPUOP_stop_singleshot_timer, vcpu, 0);
    return (u64)((i64)(lab_now_us() * 1000) + hi);
}

bool xen_pvclock_ns(const volatile void *vcpu_info, u64 *out) {
    const volatile u8 *t = (const volatile u8 *)vcpu_info + 0x20; /* struct vcpu_time_info */
    const volatile u32 *version = (const volatile u32 *)t;
    for (u32 tries = 0; tries < 1000; tries++) {
        u32 v = *version;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        u64 stamp = *(const volatile u64 *)(t + 8), sys = *(const volatile u64 *)(t + 16);
        u32 mul = *(const volatile u32 *)(t + 24);
        i64 shift = *(const volatile int8_t *)(t + 28);
        u64 d = rdtsc() - stamp;
        d = shift >= 0 ? d << shift : d >> -shift;
        u64 now = sys + (u64)(((unsigned __int128)d * mul) >> 32);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (v == 0 || (v & 1) || v != *version) continue;
        *out = now;
        return true;
    }
    return false;
}
