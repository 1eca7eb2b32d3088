/* xen-demo: the "Interrupt Lab: Xen event channels" demo VM (platform xen-hvm, 2 vCPUs).
 * A Xen HVM guest that keeps every kind of event channel busy so the desktop app's port and
 * PIRQ tables move: shared_info + a registered vcpu_info for vCPU1, per-vCPU upcall vectors,
 * VIRQ_TIMER periodic on both vCPUs, an IPI port per vCPU, a loopback interdomain pair, and
 * PIRQs: irq-lab1's INTx GSI and ISA GSI 5 (irq-line-testdev) through PHYSDEVOP_map_pirq,
 * two MSI-X vectors of irq-lab0 in the PIRQ encoding. Every port starts masked and is
 * unmasked once bound; the upcall handler takes any pending, unmasked port (so a port the
 * host moves to the other vCPU or masks keeps working as Xen would), counts it and, for a
 * level PIRQ, deasserts the source and sends PHYSDEVOP_eoi. vCPU0 sends on its ports every
 * 100 ms and prints a heartbeat about once per second; it never exits.
 * Ports are listed once as "LAB-INFO demo-port name=.. port=.. pirq=.." for tests. */
#include "xen_pirq.h"
#include "irqlab.h"

LAB_GUEST("xen-demo");

#define UPCALL_VECTOR 0xf3
#define MAXP 256
#define TESTDEV_PORT 0x2000
#define ISA_LINE 5
#define PERIOD_NS 100000000ull /* VIRQ_TIMER period: 100 ms */
#define SEND_EVERY_US 100000
#define MSIX_PIRQS 2

static u8 hcall_page[4096] __attribute__((aligned(4096)));
static u8 shinfo[4096] __attribute__((aligned(4096)));
static u8 vi1_page[4096] __attribute__((aligned(4096)));
static volatile struct vcpu_info *vinfo[2];
static volatile u32 hits[MAXP], upcalls[2], handled[2];
static volatile u32 ap_ready;
static long port_t0, port_t1, ipi0, ipi1, loop_u, loop_l, intx_port, gsi_port, msix_port[MSIX_PIRQS];
static long intx_pirq, gsi_pirq;
static struct irqlab lab0, lab1;
static bool have_lab0, have_lab1;

static u32 cpu(void) { return lab_cpu_index() ? 1 : 0; }

static void on_port(u32 port) {
    if (port < MAXP) __atomic_fetch_add(&hits[port], 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&handled[cpu()], 1, __ATOMIC_SEQ_CST);
    /* level PIRQs: take the source down, then EOI (PHYSDEVOP_eoi re-raises a line still high) */
    if (port == intx_port && intx_port > 0) {
        irqlab_wr(&lab1, IRQLAB_INTX, 0);
        xen_pirq_eoi(intx_pirq);
    } else if (port == gsi_port && gsi_port > 0) {
        outb(TESTDEV_PORT + ISA_LINE, 0);
        xen_pirq_eoi(gsi_pirq);
    }
}

static void upcall_handler(struct lab_frame *f) {
    u32 c = cpu();
    __atomic_fetch_add(&upcalls[c], 1, __ATOMIC_SEQ_CST);
    if (vinfo[c]) xen_2l_scan(shinfo, vinfo[c], 0, on_port);
    lapic_eoi();
}

static long bound(const char *name, long port, long pirq) {
    if (!lab_check(port > 0 && port < MAXP, name, "rc %ld", port)) return 0;
    lab_info("demo-port name=%s port=%ld pirq=%ld", name, port, pirq);
    xen_evtchn_unmask((u32)port);
    return port;
}

static void ap_main(u32 index, u32 apic_id) {
    struct vcpu_register_vcpu_info ri = {(u64)(uintptr_t)vi1_page >> 12, 0x40, 0};
    vinfo[1] = (volatile struct vcpu_info *)(vi1_page + 0x40);
    if (HYPERCALL3(vcpu_op, VCPUOP_register_vcpu_info, 1, &ri)) vinfo[1] = (volatile struct vcpu_info *)(shinfo + 64);
    irq_enable();
    u64 period = PERIOD_NS;
    HYPERCALL3(vcpu_op, VCPUOP_set_periodic_timer, 1, &period);
    ap_ready = 1; /* then the runtime idles this vCPU with sti; hlt */
}

static void setup_ports(void) {
    port_t0 = bound("virq-timer-vcpu0", xen_bind_virq(VIRQ_TIMER, 0), 0);
    port_t1 = bound("virq-timer-vcpu1", xen_bind_virq(VIRQ_TIMER, 1), 0);
    u64 period = PERIOD_NS;
    EXPECT(HYPERCALL3(vcpu_op, VCPUOP_set_periodic_timer, 0, &period), 0, "periodic-timer-vcpu0");
    ipi0 = bound("ipi-vcpu0", xen_bind_ipi(0), 0);
    ipi1 = bound("ipi-vcpu1", xen_bind_ipi(1), 0);
    long u = xen_alloc_unbound(DOMID_SELF, DOMID_SELF);
    loop_u = bound("loopback-a", u, 0);
    loop_l = bound("loopback-b", u > 0 ? xen_bind_interdomain(DOMID_SELF, (u32)u) : u, 0);
    gsi_pirq = xen_map_pirq_gsi(ISA_LINE, -1);
    if (lab_check(gsi_pirq > 0, "gsi5-map-pirq", "rc %ld", gsi_pirq)) gsi_port = bound("pirq-gsi5", xen_bind_pirq(gsi_pirq, 0), gsi_pirq);
    if (have_lab1) {
        u32 gsi = lab1.pci->int_line;
        intx_pirq = xen_map_pirq_gsi((int)gsi, -1);
        if (lab_check(intx_pirq > 0, "intx-map-pirq", "gsi %u rc %ld", gsi, intx_pirq)) {
            intx_port = bound("pirq-irqlab1-intx", xen_bind_pirq(intx_pirq, 0), intx_pirq);
            pci_intx_disable(lab1.pci, false);
        }
    }
    if (have_lab0) {
        static struct msix m;
        if (!lab_check(msix_init(&m, lab0.pci), "msix-cap", "no MSI-X capability")) return;
        long pirq[MSIX_PIRQS];
        for (u32 v = 0; v < MSIX_PIRQS && v < m.size; v++) {
            pirq[v] = xen_get_free_pirq(MAP_PIRQ_TYPE_MSI);
            if (!lab_check(pirq[v] > 0, "msix-get-free-pirq", "rc %ld", pirq[v])) return;
            msix_mask(&m, v, true);
            mmio_write32(m.table + v * 16 + 0, xen_pirq_msi_addr_lo((u32)pirq[v]));
            mmio_write32(m.table + v * 16 + 4, xen_pirq_msi_addr_hi((u32)pirq[v]));
            mmio_write32(m.table + v * 16 + 8, 0); /* vector 0: the PIRQ encoding */
        }
        pci_intx_disable(lab0.pci, true);
        msix_function_mask(&m, false);
        msix_enable(&m, true);
        for (u32 v = 0; v < MSIX_PIRQS && v < m.size; v++) {
            char name[24];
            lab_snprintf(name, sizeof(name), "pirq-irqlab0-msix%u", v);
            msix_port[v] = bound(name, xen_bind_pirq(pirq[v], 0), pirq[v]); /* bind_pirq unmasks the vector */
        }
    }
}

/* One round of sends: every source once (the timers tick on their own). */
static void kick(u32 round) {
    if (ipi0) xen_evtchn_send(ipi0);
    if (ipi1) xen_evtchn_send(ipi1);
    if (loop_l) xen_evtchn_send(round & 1 ? loop_l : loop_u);
    if (have_lab0)
        for (u32 v = 0; v < MSIX_PIRQS; v++) if (msix_port[v]) irqlab_wr(&lab0, IRQLAB_FIRE, v);
    if (round % 5 == 0) {
        if (intx_port) irqlab_wr(&lab1, IRQLAB_INTX, 1);
        if (gsi_port) outb(TESTDEV_PORT + ISA_LINE, 1);
    }
}

void lab_main(void) {
    if (!lab_check(xen_init_hypercall_page(hcall_page), "hypercall-page", "no Xen leaves or MSR write faulted")) lab_done();
    struct xen_add_to_physmap x = {DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, (u64)(uintptr_t)shinfo >> 12};
    EXPECT(HYPERCALL2(memory_op, XENMEM_add_to_physmap, &x), 0, "map-shared-info");
    memset(shinfo + XEN_SHINFO_MASK, 0xff, EVTCHN_2L_NR_CHANNELS / 8); /* all ports masked until bound */
    vinfo[0] = (volatile struct vcpu_info *)shinfo;
    lab_set_handler(UPCALL_VECTOR, upcall_handler);
    for (u32 v = 0; v < 2; v++) {
        struct xen_hvm_evtchn_upcall_vector uv = {v, UPCALL_VECTOR};
        EXPECT(HYPERCALL2(hvm_op, HVMOP_set_evtchn_upcall_vector, &uv), 0, v ? "upcall-vector-vcpu1" : "upcall-vector-vcpu0");
    }
    pci_init(false);
    have_lab0 = irqlab_count() > 0 && irqlab_open(&lab0, 0, "lab0");
    have_lab1 = irqlab_count() > 1 && irqlab_open(&lab1, 1, "lab1");
    irq_enable();
    if (lab_acpi.ncpus >= 2 && smp_start_ap(lab_acpi.apic_ids[1], ap_main, 1000)) LAB_WAIT(ap_ready, 1000);
    lab_check(ap_ready, "vcpu1-up", "vCPU1 did not come up (%u CPUs in the MADT)", lab_acpi.ncpus);
    setup_ports();
    lab_printf("XEN-DEMO ready ports=%u\n", lab_pass_count());
    u64 t0 = lab_now_us(), next_send = 0, next_beat = 1000000;
    for (u32 round = 0;; ) {
        __asm__ volatile("sti; hlt" ::: "memory");
        u64 now = lab_now_us() - t0;
        if (now >= next_send) {
            kick(round++);
            next_send = now + SEND_EVERY_US;
        }
        if (now >= next_beat) {
            lab_printf("XEN-DEMO t=%lus upcalls=%u/%u handled=%u/%u timer=%u/%u ipi=%u/%u loopback=%u/%u gsi5=%u intx=%u msix=%u/%u\n",
                       now / 1000000, upcalls[0], upcalls[1], handled[0], handled[1], hits[port_t0], hits[port_t1], hits[ipi0],
                       hits[ipi1], hits[loop_u], hits[loop_l], hits[gsi_port], hits[intx_port], hits[msix_port[0]],
                       hits[msix_port[1]]);
            next_beat = now + 1000000;
        }
    }
}
