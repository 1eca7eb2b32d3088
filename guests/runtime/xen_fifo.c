/* FIFO event channels for the Xen lab guests (see xen_fifo.h). */
#include "xen_fifo.h"

static volatile u32 *fifo_pages[EVTCHN_FIFO_MAX_PAGES];
static volatile u32 fifo_nr_pages;
static volatile struct evtchn_fifo_control_block *fifo_cb[XEN_FIFO_MAX_VCPUS];
static u32 fifo_local_head[XEN_FIFO_MAX_VCPUS][EVTCHN_FIFO_MAX_QUEUES];
volatile u32 xen_fifo_stale;

long xen_fifo_init_control_raw(u64 gfn, u32 offset, u32 vcpu) {
    struct evtchn_init_control ic = {gfn, offset, vcpu, 0, {0}};
    long r = xen_evtchn_op(EVTCHNOP_init_control, &ic);
    if (r == 0 && ic.link_bits != 17) return -1000;
    return r;
}

long xen_fifo_init_control(u32 vcpu, void *page, u32 offset) {
    long r = xen_fifo_init_control_raw((u64)(uintptr_t)page >> 12, offset, vcpu);
    if (r == 0 && vcpu < XEN_FIFO_MAX_VCPUS) {
        for (u32 q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++) fifo_local_head[vcpu][q] = 0;
        fifo_cb[vcpu] = (volatile struct evtchn_fifo_control_block *)((u8 *)page + offset);
    }
    return r;
}

long xen_fifo_expand_array_gfn(u64 gfn) {
    struct evtchn_expand_array ea = {gfn};
    return xen_evtchn_op(EVTCHNOP_expand_array, &ea);
}

long xen_fifo_expand_array(void *page) {
    /* The page is known to the consumer before the hypercall: expand_array re-raises
     * shadow-pending ports of the new page, and their upcall can arrive before it returns. */
    u32 n = fifo_nr_pages;
    if (n >= EVTCHN_FIFO_MAX_PAGES) return xen_fifo_expand_array_gfn((u64)(uintptr_t)page >> 12);
    fifo_pages[n] = (volatile u32 *)page;
    __atomic_store_n(&fifo_nr_pages, n + 1, __ATOMIC_SEQ_CST);
    long r = xen_fifo_expand_array_gfn((u64)(uintptr_t)page >> 12);
    if (r != 0) __atomic_store_n(&fifo_nr_pages, n, __ATOMIC_SEQ_CST);
    return r;
}

long xen_fifo_set_priority(u32 port, u32 priority) {
    struct evtchn_set_priority sp = {port, priority};
    return xen_evtchn_op(EVTCHNOP_set_priority, &sp);
}

u32 xen_fifo_nr_pages(void) { return fifo_nr_pages; }

volatile u32 *xen_fifo_word(u32 port) {
    u32 page = port / EVTCHN_FIFO_WORDS_PER_PAGE;
    if (page >= fifo_nr_pages) return 0;
    return fifo_pages[page] + port % EVTCHN_FIFO_WORDS_PER_PAGE;
}

void xen_fifo_mask(u32 port) {
    volatile u32 *w = xen_fifo_word(port);
    if (w) __atomic_fetch_or(w, EVTCHN_FIFO_MASKED, __ATOMIC_SEQ_CST);
}

bool xen_fifo_unmask(u32 port) {
    volatile u32 *word = xen_fifo_word(port);
    if (!word) return false;
    u32 w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    for (;;) {
        if (!(w & EVTCHN_FIFO_MASKED)) return false;
        if (w & EVTCHN_FIFO_PENDING) break;
        u32 old = w & ~EVTCHN_FIFO_BUSY; /* fails (and retries) while Xen holds BUSY */
        u32 nw = old & ~EVTCHN_FIFO_MASKED;
        if (__atomic_compare_exchange_n(word, &old, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return false;
        w = old;
        if (w & EVTCHN_FIFO_BUSY) {
            cpu_relax();
            w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
        }
    }
    xen_evtchn_unmask(port);
    return true;
}

/* Clear LINKED and LINK, return the old LINK (Linux clear_linked). */
static u32 clear_linked(volatile u32 *word) {
    u32 w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    u32 nw;
    do {
        nw = w & ~(EVTCHN_FIFO_LINKED | EVTCHN_FIFO_LINK_MASK);
    } while (!__atomic_compare_exchange_n(word, &w, nw, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return w & EVTCHN_FIFO_LINK_MASK;
}

static u32 consume_one(u32 vcpu, volatile struct evtchn_fifo_control_block *cb, u32 q, u32 *ready, void (*fn)(u32)) {
    u32 head = fifo_local_head[vcpu][q];
    if (head == 0) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        head = cb->head[q];
    }
    u32 port = head;
    volatile u32 *word = port ? xen_fifo_word(port) : 0;
    if (!word) { /* READY without a head: nothing to walk */
        *ready &= ~(1u << q);
        fifo_local_head[vcpu][q] = 0;
        return 0;
    }
    head = clear_linked(word);
    if (head == 0) *ready &= ~(1u << q);
    u32 n = 0;
    u32 w = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    if ((w & EVTCHN_FIFO_PENDING) && !(w & EVTCHN_FIFO_MASKED) &&
        (__atomic_fetch_and(word, ~EVTCHN_FIFO_PENDING, __ATOMIC_SEQ_CST) & EVTCHN_FIFO_PENDING)) {
        fn(port);
        n = 1;
    } else {
        __atomic_fetch_add(&xen_fifo_stale, 1, __ATOMIC_SEQ_CST);
    }
    fifo_local_head[vcpu][q] = head;
    return n;
}

u32 xen_fifo_consume(u32 vcpu, void (*fn)(u32 port)) {
    if (vcpu >= XEN_FIFO_MAX_VCPUS || !fifo_cb[vcpu]) return 0;
    volatile struct evtchn_fifo_control_block *cb = fifo_cb[vcpu];
    u32 n = 0;
    u32 ready = __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST);
    while (ready) {
        u32 q = (u32)__builtin_ctz(ready);
        n += consume_one(vcpu, cb, q, &ready, fn);
        ready |= __atomic_exchange_n(&cb->ready, 0, __ATOMIC_SEQ_CST);
    }
    return n;
}

void xen_fifo_forget(void) {
    fifo_nr_pages = 0;
    for (u32 v = 0; v < XEN_FIFO_MAX_VCPUS; v++) fifo_cb[v] = 0;
}
