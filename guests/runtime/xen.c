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
