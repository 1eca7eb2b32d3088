/* xen-pirq: PIRQs as a Xen HVM guest with XENFEAT_hvm_pirqs uses them (platform xen-hvm).
 * All ports stay masked (no upcalls): each check reads and clears the 2-level pending bit.
 *  - GSI: PHYSDEVOP_map_pirq(GSI 5, an ISA line the irq-line-testdev drives) + bind_pirq;
 *    asserting the line raises the port (taken before the IOAPIC), PHYSDEVOP_eoi while still
 *    asserted raises it again, after deassertion it does not; irq_status_query NEEDS_EOI.
 *  - irq-lab INTx GSI: the line is driven by the device process through eventfds; mapped to
 *    a PIRQ, each assertion raises the port, PHYSDEVOP_eoi is the resample (raised again
 *    while INTX=1, quiet after INTX=0), a new INTX=1 raises it again.
 *  - MSI-X: get_free_pirq(MSI), an irq-lab vector programmed (masked) with the PIRQ encoding
 *    (vector 0, PIRQ in the destination field); bind_pirq unmasks it on the guest's behalf;
 *    FIRE raises the bound port, every time.
 *  - plain MSI: the same with the MSI capability (Mask bit cleared on bind_pirq).
 *  - error paths with their errnos.
 * Ends with "LAB-INFO pirq-port name=.. pirq=.. port=.. hits=.." lines for the test. */
#include "xen_pirq.h"
#include "irqlab.h"

LAB_GUEST("xen-pirq");

#define TESTDEV_PORT 0x2000
#define ISA_LINE 5
#define FIRES 5

static u8 hcall_page[4096] __attribute__((aligned(4096)));
static u8 shinfo[4096] __attribute__((aligned(4096)));

static void isa_line(u32 level) { outb(TESTDEV_PORT + ISA_LINE, level); }
static bool wait_pending(u32 port) { return LAB_WAIT(xen_2l_pending(shinfo, port), 1000); }

static void report(const char *name, long pirq, long port, u32 hits) {
    lab_info("pirq-port name=%s pirq=%ld port=%ld hits=%u", name, pirq, port, hits);
}

static void scenario_gsi(void) {
    long pirq = xen_map_pirq_gsi(ISA_LINE, -1);
    lab_check(pirq > 0, "gsi-map-pirq", "rc %ld", pirq);
    if (pirq <= 0) return;
    EXPECT(xen_map_pirq_gsi(ISA_LINE, -1), pirq, "gsi-map-pirq-again-same");
    long port = xen_bind_pirq(pirq, BIND_PIRQ__WILL_SHARE);
    lab_check(port > 0, "gsi-bind-pirq", "rc %ld", port);
    if (port <= 0) return;
    EXPECT(xen_bind_pirq(pirq, 0), -XEN_EEXIST, "gsi-bind-pirq-twice-eexist");
    EXPECT(xen_pirq_status(pirq), XENIRQSTAT_NEEDS_EOI, "gsi-status-needs-eoi");
    u32 hits = 0;
    lab_check(!xen_2l_pending(shinfo, port), "gsi-idle", "pending before assert");
    isa_line(1);
    bool p = wait_pending(port);
    lab_check(p, "gsi-assert-raises-port", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    EXPECT(xen_pirq_eoi(pirq), 0, "gsi-eoi");
    lab_check(wait_pending(port), "gsi-eoi-while-asserted-reraises", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    EXPECT(xen_pirq_eoi(pirq), 0, "gsi-eoi-2");
    lab_check(wait_pending(port), "gsi-eoi-again-reraises", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    isa_line(0);
    EXPECT(xen_pirq_eoi(pirq), 0, "gsi-eoi-after-deassert");
    lab_mdelay(20);
    lab_check(!xen_2l_pending(shinfo, port), "gsi-eoi-deasserted-quiet", "port pending");
    /* A fresh edge raises it again. */
    isa_line(1);
    lab_check(wait_pending(port), "gsi-second-assert", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    isa_line(0);
    report("gsi5", pirq, port, hits);
    EXPECT(xen_evtchn_close(port), 0, "gsi-close-port");
    EXPECT(xen_unmap_pirq(pirq), 0, "gsi-unmap");
    EXPECT(xen_unmap_pirq(pirq), -XEN_ENOENT, "gsi-unmap-again-enoent");
    EXPECT(xen_pirq_eoi(pirq), -XEN_ENOENT, "gsi-eoi-unmapped-enoent");
}

static void scenario_intx(struct irqlab *l) {
    u32 gsi = l->pci->int_line;
    lab_info("irq-lab intx pin=%u gsi=%u", l->pci->int_pin, gsi);
    long pirq = xen_map_pirq_gsi(gsi, -1);
    lab_check(pirq > 0, "intx-map-pirq", "gsi %u rc %ld", gsi, pirq);
    if (pirq <= 0) return;
    long port = xen_bind_pirq(pirq, 0);
    lab_check(port > 0, "intx-bind-pirq", "rc %ld", port);
    EXPECT(xen_pirq_status(pirq), XENIRQSTAT_NEEDS_EOI, "intx-status-needs-eoi");
    if (port <= 0) return;
    u32 hits = 0;
    pci_intx_disable(l->pci, false);
    /* The device process drives its line through eventfds: the VMM's Xen-aware INTx group
     * reads them and passes each assertion through the GSI hook to the port. */
    irqlab_wr(l, IRQLAB_INTX, 1);
    lab_check(wait_pending(port), "intx-assert-raises-port", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    EXPECT(xen_pirq_eoi(pirq), 0, "intx-eoi");
    lab_check(wait_pending(port), "intx-eoi-while-asserted-reraises", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    EXPECT(xen_pirq_eoi(pirq), 0, "intx-eoi-2");
    lab_check(wait_pending(port), "intx-eoi-again-reraises", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    irqlab_wr(l, IRQLAB_INTX, 0);
    lab_mdelay(50); /* the process applies INTX=0 before the EOI's resample reaches it */
    EXPECT(xen_pirq_eoi(pirq), 0, "intx-eoi-after-deassert");
    lab_mdelay(30);
    lab_check(!xen_2l_pending(shinfo, port), "intx-deasserted-quiet", "port %ld pending", port);
    irqlab_wr(l, IRQLAB_INTX, 1); /* a new rising edge */
    lab_check(wait_pending(port), "intx-second-assert", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    irqlab_wr(l, IRQLAB_INTX, 0);
    lab_mdelay(50);
    EXPECT(xen_pirq_eoi(pirq), 0, "intx-eoi-final");
    report("intx", pirq, port, hits);
    pci_intx_disable(l->pci, true);
    EXPECT(xen_evtchn_close(port), 0, "intx-close-port");
    EXPECT(xen_unmap_pirq(pirq), 0, "intx-unmap");
}

static void scenario_msix(struct irqlab *l) {
    static struct msix m;
    if (!lab_check(msix_init(&m, l->pci), "msix-cap", "no MSI-X capability")) return;
    long pirq = xen_get_free_pirq(MAP_PIRQ_TYPE_MSI);
    lab_check(pirq > 0, "msix-get-free-pirq", "rc %ld", pirq);
    if (pirq <= 0) return;
    u64 e = m.table; /* entry 0 */
    msix_mask(&m, 0, true);
    mmio_write32(e + 0, xen_pirq_msi_addr_lo((u32)pirq));
    mmio_write32(e + 4, xen_pirq_msi_addr_hi((u32)pirq));
    mmio_write32(e + 8, 0); /* vector 0: the PIRQ encoding */
    msix_function_mask(&m, false);
    msix_enable(&m, true);
    /* Fired while masked: held in the PBA, delivered when bind_pirq unmasks the vector. */
    irqlab_wr(l, IRQLAB_FIRE, 0);
    lab_check(LAB_WAIT(msix_pending(&m, 0), 1000), "msix-masked-pending", "PBA bit not set");
    long port = xen_bind_pirq(pirq, 0);
    lab_check(port > 0, "msix-bind-pirq", "rc %ld", port);
    if (port <= 0) return;
    lab_check((msix_entry_word(&m, 0, 3) & 1) == 0, "msix-bind-unmasks", "vector control %#x", msix_entry_word(&m, 0, 3));
    u32 hits = 0;
    lab_check(wait_pending(port), "msix-pending-delivered-on-bind", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    EXPECT(xen_pirq_status(pirq), 0, "msix-status-no-eoi");
    EXPECT(xen_pirq_eoi(pirq), -XEN_EINVAL, "msix-eoi-einval");
    EXPECT(xen_unmap_pirq(pirq), -XEN_EINVAL, "msix-unmap-einval");
    u32 ok = 0;
    for (u32 i = 0; i < FIRES; i++) {
        irqlab_wr(l, IRQLAB_FIRE, 0);
        if (wait_pending(port)) ok++;
        hits += xen_2l_take(shinfo, port);
    }
    lab_check(ok == FIRES, "msix-fire-raises-port", "%u of %u", ok, FIRES);
    report("msix0", pirq, port, hits);
    msix_mask(&m, 0, true);
    msix_enable(&m, false);
}

/* Plain MSI (one message, per-vector masking): the same PIRQ encoding written into the
 * capability while the vector is masked; bind_pirq unmasks it (Mask bit) on our behalf. */
static void scenario_msi(struct irqlab *l) {
    static struct msi m;
    if (!lab_check(msi_init(&m, l->pci), "msi-cap", "no MSI capability")) return;
    if (!lab_check(m.maskable, "msi-maskable", "no per-vector masking")) return;
    long pirq = xen_get_free_pirq(MAP_PIRQ_TYPE_MSI);
    lab_check(pirq > 0, "msi-get-free-pirq", "rc %ld", pirq);
    if (pirq <= 0) return;
    msi_mask(&m, 0, true);
    pci_write32(m.d, (u16)(m.cap + 4), xen_pirq_msi_addr_lo((u32)pirq));
    if (m.is64) pci_write32(m.d, (u16)(m.cap + 8), xen_pirq_msi_addr_hi((u32)pirq));
    pci_write16(m.d, (u16)(m.cap + (m.is64 ? 0xc : 0x8)), 0); /* vector 0: the PIRQ encoding */
    msi_enable(&m, true);
    irqlab_wr(l, IRQLAB_FIRE, 0);
    lab_check(LAB_WAIT(msi_pending_bits(&m) & 1, 1000), "msi-masked-pending", "pending bits %#x", msi_pending_bits(&m));
    long port = xen_bind_pirq(pirq, 0);
    lab_check(port > 0, "msi-bind-pirq", "rc %ld", port);
    if (port <= 0) return;
    lab_check((msi_mask_bits(&m) & 1) == 0, "msi-bind-unmasks", "mask bits %#x", msi_mask_bits(&m));
    u32 hits = 0;
    lab_check(wait_pending(port), "msi-pending-delivered-on-bind", "port %ld not pending", port);
    hits += xen_2l_take(shinfo, port);
    u32 ok = 0;
    for (u32 i = 0; i < FIRES; i++) {
        irqlab_wr(l, IRQLAB_FIRE, 0);
        if (wait_pending(port)) ok++;
        hits += xen_2l_take(shinfo, port);
    }
    lab_check(ok == FIRES, "msi-fire-raises-port", "%u of %u", ok, FIRES);
    report("msi0", pirq, port, hits);
    msi_mask(&m, 0, true);
    msi_enable(&m, false);
}

static void scenario_errors(void) {
    EXPECT(xen_map_pirq_gsi(24, -1), -XEN_EINVAL, "map-pirq-gsi24-einval");
    EXPECT(xen_map_pirq_gsi(-1, -1), -XEN_EINVAL, "map-pirq-gsi-negative-einval");
    EXPECT(xen_map_pirq_gsi(6, 4096), -XEN_EINVAL, "map-pirq-pirq-range-einval");
    struct physdev_map_pirq msi = {.domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MSI, .index = -1, .pirq = -1};
    EXPECT(xen_physdev_op(PHYSDEVOP_map_pirq, &msi), -XEN_EINVAL, "map-pirq-msi-einval");
    struct physdev_map_pirq other = {.domid = 5, .type = MAP_PIRQ_TYPE_GSI, .index = 6, .pirq = -1};
    EXPECT(xen_physdev_op(PHYSDEVOP_map_pirq, &other), -XEN_EPERM, "map-pirq-domid-eperm");
    EXPECT(xen_physdev_op(PHYSDEVOP_map_pirq, (void *)0x8000000000ull), -XEN_EFAULT, "map-pirq-efault");
    EXPECT(xen_unmap_pirq(200), -XEN_ENOENT, "unmap-unused-enoent");
    EXPECT(xen_unmap_pirq(4096), -XEN_EINVAL, "unmap-range-einval");
    EXPECT(xen_pirq_eoi(200), -XEN_ENOENT, "eoi-unused-enoent");
    EXPECT(xen_pirq_eoi(4096), -XEN_EINVAL, "eoi-range-einval");
    EXPECT(xen_pirq_status(200), -XEN_ENOENT, "status-unused-enoent");
    EXPECT(xen_bind_pirq(4096, 0), -XEN_EINVAL, "bind-pirq-range-einval");
    EXPECT(xen_physdev_op(99, &msi), -XEN_ENOSYS, "physdev-unknown-enosys");
}

void lab_main(void) {
    if (!lab_check(xen_init_hypercall_page(hcall_page), "hypercall-page", "no Xen leaves or MSR write faulted")) lab_done();
    struct xen_add_to_physmap x = {DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, (u64)(uintptr_t)shinfo >> 12};
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), 0, "map-shared-info");
    memset(shinfo + XEN_SHINFO_MASK, 0xff, EVTCHN_2L_NR_CHANNELS / 8); /* all ports masked: polled */
    scenario_errors();
    scenario_gsi();
    static struct irqlab l;
    pci_init(false);
    if (lab_check(irqlab_count() > 0, "irqlab-present", "no irq-lab function on bus 0") && irqlab_open(&l, 0, "xen-pirq")) {
        scenario_intx(&l);
        scenario_msix(&l);
        scenario_msi(&l);
    }
    if (lab_cmdline_u64("shutdown", 0) && lab_fail_count() == 0) {
        lab_info("all checks done pass=%u fail=0, powering off", lab_pass_count());
        u32 reason = SHUTDOWN_poweroff;
        HYPERCALL2(sched_op, SCHEDOP_shutdown, &reason);
    }
    lab_done();
}
