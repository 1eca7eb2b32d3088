/* Xen PIRQ helpers for the lab guests (HYPERVISOR_physdev_op, EVTCHNOP_bind_pirq; public/
 * physdev.h and public/event_channel.h, 64-bit layouts) and a 2-level pending-bit clear. */
#ifndef LAB_XEN_PIRQ_H
#define LAB_XEN_PIRQ_H
#include "xen.h"

#define PHYSDEVOP_irq_status_query 5
#define PHYSDEVOP_eoi 12
#define PHYSDEVOP_map_pirq 13
#define PHYSDEVOP_unmap_pirq 14
#define PHYSDEVOP_get_free_pirq 23
#define MAP_PIRQ_TYPE_MSI 0
#define MAP_PIRQ_TYPE_GSI 1
#define XENIRQSTAT_NEEDS_EOI 1
#define EVTCHNOP_bind_pirq 2
#define BIND_PIRQ__WILL_SHARE 1
#define XEN_ENOSPC 28

struct physdev_map_pirq { u16 domid; int type; int index; int pirq; int bus; int devfn; int entry_nr; u64 table_base; };
struct physdev_unmap_pirq { u16 domid; int pirq; };
struct physdev_eoi { u32 irq; };
struct physdev_irq_status_query { u32 irq; u32 flags; };
struct physdev_get_free_pirq { int type; u32 pirq; };
struct evtchn_bind_pirq { u32 pirq; u32 flags; u32 port; };

static inline long xen_physdev_op(u32 cmd, void *arg) { return HYPERCALL2(physdev_op, cmd, arg); }
/* PHYSDEVOP_map_pirq(GSI `gsi`) for DOMID_SELF; `pirq` -1 lets the VMM choose. PIRQ or -errno. */
long xen_map_pirq_gsi(int gsi, int pirq);
long xen_unmap_pirq(int pirq);
long xen_pirq_eoi(u32 pirq);
/* PHYSDEVOP_irq_status_query: flags (>= 0) or -errno. */
long xen_pirq_status(u32 pirq);
/* PHYSDEVOP_get_free_pirq(type): PIRQ or -errno. */
long xen_get_free_pirq(int type);
/* EVTCHNOP_bind_pirq: port or -errno. */
long xen_bind_pirq(u32 pirq, u32 flags);
/* The MSI address/data Linux composes for a PIRQ (xen_msi_compose_msg): vector 0. */
static inline u32 xen_pirq_msi_addr_lo(u32 pirq) { return 0xfee00000u | (pirq & 0xff) << 12; }
static inline u32 xen_pirq_msi_addr_hi(u32 pirq) { return pirq & 0xffffff00u; }
/* Clear a port's 2-level pending bit; returns whether it was set. */
bool xen_2l_take(void *shinfo, u32 port);
#endif
