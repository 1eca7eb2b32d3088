/* FIFO event channels for the Xen lab guests (xen-hvm-interfaces.md §4; Xen
 * public/event_channel.h, Linux drivers/xen/events/events_fifo.c): init_control,
 * expand_array, set_priority, the event array, and the Linux consumer and unmask algorithms. */
#ifndef LAB_XEN_FIFO_H
#define LAB_XEN_FIFO_H
#include "xen.h"

#define EVTCHNOP_init_control 11
#define EVTCHNOP_expand_array 12
#define EVTCHNOP_set_priority 13
#define XEN_EACCES 13
#define XEN_ENOSPC 28

#define EVTCHN_FIFO_PENDING (1u << 31)
#define EVTCHN_FIFO_MASKED (1u << 30)
#define EVTCHN_FIFO_LINKED (1u << 29)
#define EVTCHN_FIFO_BUSY (1u << 28)
#define EVTCHN_FIFO_LINK_MASK ((1u << 17) - 1)
#define EVTCHN_FIFO_MAX_QUEUES 16
#define EVTCHN_FIFO_PRIORITY_DEFAULT 7
#define EVTCHN_FIFO_WORDS_PER_PAGE 1024
#define EVTCHN_FIFO_MAX_PAGES 128
#define XEN_FIFO_MAX_VCPUS 8

struct evtchn_init_control { u64 control_gfn; u32 offset; u32 vcpu; u8 link_bits; u8 pad[7]; };
struct evtchn_expand_array { u64 array_gfn; };
struct evtchn_set_priority { u32 port; u32 priority; };
struct evtchn_fifo_control_block { u32 ready; u32 rsvd; u32 head[EVTCHN_FIFO_MAX_QUEUES]; };

/* Raw hypercalls (return 0 or -errno). init_control registers the block with the helpers
 * on success; expand_array records the page as the next event-array page on success. */
long xen_fifo_init_control(u32 vcpu, void *page, u32 offset);
long xen_fifo_init_control_raw(u64 gfn, u32 offset, u32 vcpu);
long xen_fifo_expand_array(void *page);
long xen_fifo_expand_array_gfn(u64 gfn);
long xen_fifo_set_priority(u32 port, u32 priority);
u32 xen_fifo_nr_pages(void);
/* The port's event word, NULL if no array page backs it. */
volatile u32 *xen_fifo_word(u32 port);
void xen_fifo_mask(u32 port);
/* Linux evtchn_fifo_unmask: clear MASKED with cmpxchg while BUSY is clear; if the port is
 * pending, leave it to EVTCHNOP_unmask (which relinks). Returns true if it made the hypercall. */
bool xen_fifo_unmask(u32 port);
/* Linux __evtchn_fifo_handle_events for `vcpu`: READY xchg, per-queue head walk with the
 * cmpxchg that clears LINKED|LINK; fn(port) for each port found PENDING and not MASKED
 * (PENDING is cleared first, with test-and-clear). Returns ports handled. `stale` counts
 * linked ports found not pending or masked. */
u32 xen_fifo_consume(u32 vcpu, void (*fn)(u32 port));
extern volatile u32 xen_fifo_stale;
/* Forget guest-side state (after EVTCHNOP_reset). */
void xen_fifo_forget(void);
#endif
