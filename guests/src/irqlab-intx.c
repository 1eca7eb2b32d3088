/* irqlab-intx: level-triggered INTx of the irq-lab device through the IOAPIC: routing (MP
 * table vs. the default swizzle), one assert/deassert, the command register's INTx disable,
 * INTX_AUTO work items (each acknowledged once, line low at the end), and two functions
 * sharing one line. */
#include "irqlab.h"

LAB_GUEST("irqlab-intx");

#define V_INTX 0x60
enum mode { MANUAL, AUTO };
struct ldev {
    struct irqlab l;
    struct pci_intx r;
    volatile u32 acks, deasserts;
};
static struct ldev devs[IRQLAB_MAX];
static u32 ndev, timeout_ms, settle_ms;
static struct ldev *volatile active[2];
static volatile u32 nactive, invocations, empty;
static volatile enum mode mode;

static void handler(struct lab_frame *f) {
    u32 work = 0;
    for (u32 i = 0; i < nactive; i++) {
        struct ldev *d = active[i];
        if (!irqlab_rd(&d->l, IRQLAB_INTX)) continue;
        work++;
        if (mode == AUTO) {
            irqlab_wr(&d->l, IRQLAB_ACK_INTX, 1);
            atomic_fetch_add32(&d->acks, 1);
        } else {
            irqlab_wr(&d->l, IRQLAB_INTX, 0);
            atomic_fetch_add32(&d->deasserts, 1);
        }
        (void)irqlab_rd(&d->l, IRQLAB_INTX); /* flush the write before the EOI */
    }
    if (!work) atomic_fetch_add32(&empty, 1);
    atomic_fetch_add32(&invocations, 1);
    lapic_eoi();
}

static void use(struct ldev *a, struct ldev *b, enum mode m) {
    nactive = 0;
    mode = m;
    active[0] = a;
    active[1] = b;
    nactive = b ? 2 : 1;
    invocations = empty = 0;
    a->acks = a->deasserts = 0;
    if (b) b->acks = b->deasserts = 0;
    pci_intx_program(&a->r, V_INTX, lapic_id(), false);
}
static void done(struct ldev *a) { pci_intx_program(&a->r, V_INTX, lapic_id(), true); }

static bool route(struct ldev *d, u32 i) {
    char c[32];
    lab_snprintf(c, sizeof(c), "dev%u.route", i);
    if (!lab_check(d->l.pci->int_pin == 1, c, "Interrupt Pin %u, want 1 (INTA#)", d->l.pci->int_pin)) return false;
    bool ok = pci_intx_route(d->l.pci, &d->r);
    lab_info("dev%u 00:%02x.%u INTA# -> line %u -> GSI %u (%s) -> IOAPIC 0x%x pin %u, %s, active-%s", i,
             d->l.pci->slot, d->l.pci->fn, d->r.line, d->r.gsi, d->r.from_mp ? "MP table" : "default swizzle",
             d->r.ioapic_base, d->r.ioapic_pin, d->r.level ? "level" : "edge", d->r.active_low ? "low" : "high");
    if (!lab_check(ok, c, "no IOAPIC serves GSI %u", d->r.gsi)) return false;
    if (d->r.mp_entry) {
        lab_snprintf(c, sizeof(c), "dev%u.mp-route", i);
        lab_check(d->r.mp_gsi == 16 + d->r.line && d->r.level && !d->r.active_low, c,
                  "MP table says GSI %u %s active-%s; the swizzle gives GSI %u level active-high",
                  d->r.mp_gsi, d->r.level ? "level" : "edge", d->r.active_low ? "low" : "high", 16 + d->r.line);
    } else if (lab_acpi.mp_found) {
        lab_info("dev%u: the MP table has no I/O interrupt entry for slot %u INTA#", i, d->l.pci->slot);
    }
    struct msix x;
    struct msi m;
    if (msix_init(&x, d->l.pci)) msix_enable(&x, false);
    if (msi_init(&m, d->l.pci)) msi_enable(&m, false);
    pci_intx_disable(d->l.pci, false);
    return true;
}

static void test_manual(struct ldev *d) {
    use(d, 0, MANUAL);
    irqlab_wr(&d->l, IRQLAB_INTX, 1);
    bool got = LAB_WAIT(d->deasserts >= 1, timeout_ms);
    lab_mdelay(settle_ms);
    u32 level = irqlab_rd(&d->l, IRQLAB_INTX);
    bool st = pci_read16(d->l.pci, PCI_STATUS) & PCI_STATUS_INTX;
    lab_check(got && d->deasserts == 1 && !level, "assert-deassert",
              "%u handler deasserts (want 1), INTX reads %u after", d->deasserts, level);
    lab_check_q("auto-eoi", invocations == 1 && !empty, "assert-deassert-no-extra",
                "%u handler runs for one assertion (%u found the line low)", invocations, empty);
    lab_check(!st, "status-bit-clear", "Status.Interrupt still set with the line low");
    lab_printf("LAB-COUNT intx-manual gsi=%u raised=1 handled=%u invocations=%u empty=%u\n", d->r.gsi,
               d->deasserts, invocations, empty);
    done(d);
}

static void test_disable(struct ldev *d) {
    use(d, 0, MANUAL);
    pci_intx_disable(d->l.pci, true);
    irqlab_wr(&d->l, IRQLAB_INTX, 1);
    lab_mdelay(settle_ms);
    u32 early = invocations;
    bool st = pci_read16(d->l.pci, PCI_STATUS) & PCI_STATUS_INTX;
    pci_intx_disable(d->l.pci, false);
    bool got = LAB_WAIT(d->deasserts >= 1, timeout_ms);
    lab_mdelay(settle_ms);
    lab_check(!early && got && d->deasserts == 1, "intx-disable",
              "%u interrupts with Command.InterruptDisable set, %u deasserts after clearing it (want 1)",
              early, d->deasserts);
    lab_check(st, "status-bit-set", "Status.Interrupt clear while the function asserts INTA#");
    if (irqlab_rd(&d->l, IRQLAB_INTX)) irqlab_wr(&d->l, IRQLAB_INTX, 0);
    done(d);
}

/* Wait for every work item, failing only when none completes for timeout_ms. Each item is a
 * full round trip (interrupt, handler MMIO, EOI, resample, device process re-signal): about
 * 3 ms on a loaded 2-core host whichever irqchip runs the IOAPIC, so a deadline proportional
 * to the item count measured the host's speed, not the device, and timed out mid-run (the
 * "stall" at ~750 of 1000 items). A real stall (a lost resample) still fails after timeout_ms. */
static bool wait_items(struct ldev *a, struct ldev *b, u32 na, u32 nb) {
    u32 seen = ~0u;
    u64 dl = 0;
    for (;;) {
        if (a->acks >= na && (!b || b->acks >= nb)) return true;
        u32 done = a->acks + (b ? b->acks : 0);
        if (done != seen) {
            seen = done;
            dl = lab_deadline_ms(timeout_ms);
        } else if (lab_expired(dl)) {
            return false;
        }
        cpu_relax();
    }
}

static void test_auto(struct ldev *a, struct ldev *b, u32 na, u32 nb, const char *check) {
    use(a, b, AUTO);
    irqlab_wr(&a->l, IRQLAB_INTX_AUTO, na);
    if (b) irqlab_wr(&b->l, IRQLAB_INTX_AUTO, nb);
    bool got = wait_items(a, b, na, nb);
    lab_mdelay(settle_ms);
    u32 la = irqlab_rd(&a->l, IRQLAB_INTX), lb = b ? irqlab_rd(&b->l, IRQLAB_INTX) : 0;
    u32 work = a->acks + (b ? b->acks : 0);
    lab_check(got && a->acks == na && (!b || b->acks == nb) && !la && !lb, check,
              "acks %u/%u and %u/%u, line levels %u %u at the end", a->acks, na, b ? b->acks : 0, nb, la, lb);
    char c[48];
    lab_snprintf(c, sizeof(c), "%s-no-extra", check);
    lab_check_q("auto-eoi", !empty && invocations <= work, c,
                "%u handler runs for %u work items, %u found no device asserting", invocations, work, empty);
    lab_printf("LAB-COUNT %s device=%u gsi=%u raised=%u handled=%u invocations=%u empty=%u\n", check,
               (u32)(a - devs), a->r.gsi, na, a->acks, invocations, empty);
    if (b)
        lab_printf("LAB-COUNT %s device=%u gsi=%u raised=%u handled=%u\n", check, (u32)(b - devs),
                   b->r.gsi, nb, b->acks);
    done(a);
}

void lab_main(void) {
    pci_init(true);
    timeout_ms = (u32)lab_cmdline_u64("timeout_ms", 3000);
    settle_ms = (u32)lab_cmdline_u64("settle_ms", 20);
    ndev = irqlab_count();
    if (!ndev) {
        lab_fail("device", "no irq-lab device (1b36:0100) on bus 0");
        return;
    }
    if (ndev > IRQLAB_MAX) ndev = IRQLAB_MAX;
    lab_set_handler(V_INTX, handler);
    for (u32 i = 0; i < ndev; i++) {
        char p[16];
        lab_snprintf(p, sizeof(p), "dev%u", i);
        if (!irqlab_open(&devs[i].l, i, p) || !route(&devs[i], i)) return;
        devs[i].l.ack = false;
        if (!(devs[i].l.features & IRQLAB_F_INTX)) lab_fail("feature", "%s: FEATURES 0x%x lacks INTx", p, devs[i].l.features);
        irqlab_wr(&devs[i].l, IRQLAB_INTX, 0);
    }
    struct ldev *d = &devs[0];
    test_manual(d);
    test_disable(d);
    u32 n = (u32)lab_cmdline_u64("work", 1000);
    test_auto(d, 0, n, 0, "auto");
    struct ldev *a = 0, *b = 0;
    for (u32 i = 0; i < ndev && !b; i++)
        for (u32 j = i + 1; j < ndev && !b; j++)
            if (devs[i].r.gsi == devs[j].r.gsi) a = &devs[i], b = &devs[j];
    if (b)
        test_auto(a, b, n, n + n / 2, "shared");
    else
        lab_info("shared: needs two irq-lab functions on one INTx line (slots differing by 4): skipped");
    lab_check(!lab_spurious_count, "no-stray-interrupts", "%u spurious", lab_spurious_count);
}
