/* Minimal Xen HVM guest interface for the lab guests: CPUID leaf discovery, the hypercall
 * page (MSR from CPUID base+2), hypercalls through it (64-bit ABI: rdi, rsi, rdx, r10, r8),
 * and the structs/constants the xen guests use (xen/include/public). */
#ifndef LAB_XEN_H
#define LAB_XEN_H
#include "lab.h"

#define XEN_CPUID_FIRST 0x40000000u
#define XEN_CPUID_LAST 0x4000ff00u

#define __HYPERVISOR_set_timer_op 15
#define __HYPERVISOR_memory_op 12
#define __HYPERVISOR_xen_version 17
#define __HYPERVISOR_console_io 18
#define __HYPERVISOR_vcpu_op 24
#define __HYPERVISOR_sched_op 29
#define __HYPERVISOR_event_channel_op 32
#define __HYPERVISOR_physdev_op 33
#define __HYPERVISOR_hvm_op 34

#define XENVER_version 0
#define XENVER_get_features 6
#define XENMEM_add_to_physmap 7
#define XENMAPSPACE_shared_info 0
#define XENMAPSPACE_gmfn 2
#define DOMID_SELF 0x7ff0
#define HVMOP_set_param 0
#define HVMOP_get_param 1
#define HVMOP_set_evtchn_upcall_vector 23
#define HVM_PARAM_CALLBACK_IRQ 0
#define VCPUOP_is_up 3
#define VCPUOP_set_periodic_timer 6
#define VCPUOP_stop_periodic_timer 7
#define VCPUOP_set_singleshot_timer 8
#define VCPUOP_stop_singleshot_timer 9
#define VCPUOP_register_vcpu_info 10
#define VCPU_SSHOTTMR_future 1
#define SCHEDOP_yield 0
#define SCHEDOP_shutdown 2
#define SCHEDOP_poll 3
#define SHUTDOWN_poweroff 0
#define SHUTDOWN_suspend 2
#define CONSOLEIO_write 0
#define CONSOLEIO_read 1

#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_virq 1
#define EVTCHNOP_close 3
#define EVTCHNOP_send 4
#define EVTCHNOP_status 5
#define EVTCHNOP_alloc_unbound 6
#define EVTCHNOP_bind_ipi 7
#define EVTCHNOP_bind_vcpu 8
#define EVTCHNOP_unmask 9
#define EVTCHNOP_reset 10
#define EVTCHNSTAT_closed 0
#define EVTCHNSTAT_unbound 1
#define EVTCHNSTAT_interdomain 2
#define EVTCHNSTAT_pirq 3
#define EVTCHNSTAT_virq 4
#define EVTCHNSTAT_ipi 5
#define VIRQ_TIMER 0
#define VIRQ_CONSOLE 2
#define NR_VIRQS 24
#define EVTCHN_2L_NR_CHANNELS 4096 /* 64-bit guest */

#define XEN_EPERM 1
#define XEN_ENOENT 2
#define XEN_ESRCH 3
#define XEN_ENXIO 6
#define XEN_EFAULT 14
#define XEN_EBUSY 16
#define XEN_EEXIST 17
#define XEN_EINVAL 22
#define XEN_ENOSYS 38
#define XEN_ETIME 62
#define XEN_EOPNOTSUPP 95

struct xen_add_to_physmap { u16 domid; u16 size; u32 space; u64 idx; u64 gpfn; };
struct xen_hvm_param { u16 domid; u16 pad; u32 index; u64 value; };
struct xen_hvm_evtchn_upcall_vector { u32 vcpu; u8 vector; };
struct xen_feature_info { u32 submap_idx; u32 submap; };
struct vcpu_register_vcpu_info { u64 mfn; u32 offset; u32 rsvd; };
struct vcpu_set_singleshot_timer { u64 timeout_abs_ns; u32 flags; };
struct sched_poll { u64 ports; u32 nr_ports; u64 timeout; };
struct evtchn_alloc_unbound { u16 dom; u16 remote_dom; u32 port; };
struct evtchn_bind_interdomain { u16 remote_dom; u32 remote_port; u32 local_port; };
struct evtchn_bind_virq { u32 virq; u32 vcpu; u32 port; };
struct evtchn_bind_ipi { u32 vcpu; u32 port; };
struct evtchn_bind_vcpu { u32 port; u32 vcpu; };
struct evtchn_status { u16 dom; u32 port; u32 status; u32 vcpu; u32 u0; u32 u1; };
struct vcpu_info { u8 evtchn_upcall_pending; u8 evtchn_upcall_mask; u8 pad[6]; u64 evtchn_pending_sel; u8 arch_and_time[48]; };

/* Base of the Xen CPUID leaves, 0 if none. */
u32 xen_cpuid_base(void);
/* Write the hypercall MSR for the page at `page` (4 KiB aligned); false if it faulted. */
bool xen_init_hypercall_page(void *page);
/* Attempt a raw WRMSR; returns true if it raised an exception (#GP). */
bool xen_wrmsr_faults(u32 msr, u64 value);
u64 xen_rdmsr(u32 msr);
long xen_hypercall(u32 nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5);
#define HYPERCALL1(nr, a) xen_hypercall(__HYPERVISOR_##nr, (u64)(a), 0, 0, 0, 0)
#define HYPERCALL2(nr, a, b) xen_hypercall(__HYPERVISOR_##nr, (u64)(a), (u64)(b), 0, 0, 0)
#define HYPERCALL3(nr, a, b, c) xen_hypercall(__HYPERVISOR_##nr, (u64)(a), (u64)(b), (u64)(c), 0, 0)
extern u8 *xen_hypercall_page;

/* ---- event channels (64-bit shared_info: evtchn_pending @0x800, evtchn_mask @0xa00) ---- */
#define XEN_SHINFO_PENDING 0x800
#define XEN_SHINFO_MASK 0xa00
static inline long xen_evtchn_op(u32 cmd, void *arg) { return HYPERCALL2(event_channel_op, cmd, arg); }
long xen_evtchn_send(u32 port);
long xen_evtchn_unmask(u32 port); /* EVTCHNOP_unmask */
long xen_evtchn_close(u32 port);
long xen_bind_ipi(u32 vcpu);            /* port or -errno */
long xen_bind_virq(u32 virq, u32 vcpu); /* port or -errno */
long xen_alloc_unbound(u16 dom, u16 remote_dom);
long xen_bind_interdomain(u16 remote_dom, u32 remote_port);
long xen_bind_vcpu(u32 port, u32 vcpu);
void xen_2l_mask(void *shinfo, u32 port);   /* set the mask bit (guest side) */
bool xen_2l_pending(void *shinfo, u32 port);
/* The 2-level upcall scan for one vCPU: clears upcall_pending, takes pending_sel, and for each
 * pending, unmasked port in `mine` (bitmap of the ports this vCPU handles; NULL = all)
 * clears the pending bit and calls fn(port). Returns the number of ports handled. */
u32 xen_2l_scan(void *shinfo, volatile struct vcpu_info *vi, const volatile u64 *mine, void (*fn)(u32 port));
/* Xen system time (ns), found by probing VCPUOP_set_singleshot_timer(VCPU_SSHOTTMR_future)
 * for -ETIME on `vcpu` (the calling one), bisecting its offset from the TSC clock; the timer
 * is stopped afterwards. */
u64 xen_system_time_ns(u32 vcpu);
/* Xen system time from the vcpu_info's vcpu_time_info (pvclock) and the TSC; false when the
 * hypervisor never filled it (version 0) or it stayed mid-update. */
bool xen_pvclock_ns(const volatile void *vcpu_info, u64 *out);
#define XEN_PVCLOCK_TSC_STABLE 1
#endif
