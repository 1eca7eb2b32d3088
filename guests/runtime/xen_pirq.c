/* Xen PIRQ helpers (see xen_pirq.h). */
#include "xen_pirq.h"

long xen_map_pirq_gsi(int gsi, int pirq) {
    struct physdev_map_pirq m = {.domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_GSI, .index = gsi, .pirq = pirq};
    long r = xen_physdev_op(PHYSDEVOP_map_pirq, &m);
    return r < 0 ? r : m.pirq;
}

long xen_unmap_pirq(int pirq) {
    struct physdev_unmap_pirq u = {.domid = DOMID_SELF, .pirq = pirq};
    return xen_physdev_op(PHYSDEVOP_unmap_pirq, &u);
}

long xen_pirq_eoi(u32 pirq) {
    struct physdev_eoi e = {.irq = pirq};
    return xen_physdev_op(PHYSDEVOP_eoi, &e);
}

long xen_pirq_status(u32 pirq) {
    struct physdev_irq_status_query q = {.irq = pirq, .flags = 0xdead};
    long r = xen_physdev_op(PHYSDEVOP_irq_status_query, &q);
    return r < 0 ? r : (long)q.flags;
}

long xen_get_free_pirq(int type) {
    struct physdev_get_free_pirq g = {.type = type, .pirq = 0};
    long r = xen_physdev_op(PHYSDEVOP_get_free_pirq, &g);
    return r < 0 ? r : (long)g.pirq;
}

long xen_bind_pirq(u32 pirq, u32 flags) {
    struct evtchn_bind_pirq b = {.pirq = pirq, .flags = flags};
    long r = xen_evtchn_op(EVTCHNOP_bind_pirq, &b);
    return r < 0 ? r : (long)b.port;
}

bool xen_2l_take(void *shinfo, u32 port) {
    volatile u64 *p = (volatile u64 *)((u8 *)shinfo + XEN_SHINFO_PENDING);
    u64 bit = 1ull << (port % 64);
    return (__atomic_fetch_and(&p[port / 64], ~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}
