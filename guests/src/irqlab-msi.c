/* irqlab-msi: MSI (non-X) on the irq-lab device: every enabled message once, per-vector
 * masking with pending delivery (if the capability offers it), a burst on one message. */
#include "irqlab.h"

LAB_GUEST("irqlab-msi");

#define BASE_VECTOR 0x40 /* aligned to 32: message i arrives on 0x40 + i */
static struct irqlab L;
static struct msi m;
static u32 raised[32], timeout_ms, settle_ms;
static u64 total_raised, total_handled;

static bool seq_ok(u32 v) { return !irqlab_has_seq(&L, v) || irqlab_seq(&L, v) == raised[v]; }
static void fire(u32 v) { irqlab_wr(&L, IRQLAB_FIRE, v); raised[v]++; total_raised++; }

static void test_each_once(void) {
    u32 bad = 0, handled = 0;
    for (u32 v = 0; v < m.enabled; v++) {
        u32 before = irqc_total(v);
        fire(v);
        LAB_WAIT(irqc_total(v) != before, timeout_ms);
        lab_mdelay(settle_ms);
        u32 got = irqc_total(v) - before;
        handled += got;
        bad += got != 1 || !seq_ok(v);
        if (got != 1 || !seq_ok(v))
            lab_info("message %u: handled %u times, seq %u, raised %u", v, got, irqlab_seq(&L, v), raised[v]);
    }
    total_handled += handled;
    lab_check(!bad, "each-once", "%u of %u messages not handled exactly once", bad, m.enabled);
    lab_printf("LAB-COUNT msi-each-once vectors=0-%u raised=%u handled=%u\n", m.enabled - 1, m.enabled, handled);
}

static void test_mask(void) {
    if (!m.maskable) {
        lab_info("MSI capability without per-vector masking: mask checks skipped");
        return;
    }
    u32 v = m.enabled - 1, before = irqc_total(v);
    msi_mask(&m, v, true);
    bool mask_rb = msi_mask_bits(&m) >> v & 1;
    fire(v);
    fire(v);
    lab_mdelay(settle_ms);
    u32 early = irqc_total(v) - before;
    bool pend = msi_pending_bits(&m) >> v & 1;
    msi_mask(&m, v, false);
    LAB_WAIT(irqc_total(v) != before, timeout_ms);
    lab_mdelay(settle_ms);
    u32 got = irqc_total(v) - before;
    total_handled += got;
    lab_check(mask_rb && !early && pend && got == 1 && !(msi_pending_bits(&m) >> v & 1) && seq_ok(v),
              "mask-pending", "message %u: mask bit read back %u, %u interrupts while masked, pending "
              "bit %s, %u after unmask (want 1), seq %u want %u", v, mask_rb, early,
              pend ? "set" : "clear", got, irqlab_seq(&L, v), raised[v]);
    lab_printf("LAB-COUNT msi-mask-pending vector=%u raised=2 handled=%u\n", v, got);
}

static void test_burst(u32 n) {
    u32 v = 0, before = irqc_total(v);
    irqlab_wr(&L, IRQLAB_BURST_COUNT, n);
    irqlab_wr(&L, IRQLAB_BURST, v);
    raised[v] += n;
    total_raised += n;
    bool done = LAB_WAIT(irqlab_seq(&L, v) == raised[v] && irqlab_seen_seq[v] == raised[v], timeout_ms + n / 100);
    lab_mdelay(settle_ms);
    u32 h = irqc_total(v) - before;
    total_handled += h;
    lab_check(done && h >= 1 && h <= n, "burst", "message 0: seq %u want %u, last handler saw %u, "
              "%u handled (want 1..%u)", irqlab_seq(&L, v), raised[v], irqlab_seen_seq[v], h, n);
    lab_printf("LAB-COUNT msi-burst vector=0 raised=%u handled=%u\n", n, h);
}

void lab_main(void) {
    pci_init(true);
    timeout_ms = (u32)lab_cmdline_u64("timeout_ms", 3000);
    settle_ms = (u32)lab_cmdline_u64("settle_ms", 20);
    if (!irqlab_count()) {
        lab_fail("device", "no irq-lab device (1b36:0100) on bus 0");
        return;
    }
    if (!irqlab_open(&L, 0, "dev0")) return;
    L.ack = lab_cmdline_u64("ack", 1);
    irqlab_hook_dev = &L;
    if (!(L.features & IRQLAB_F_MSI) || !msi_init(&m, L.pci)) {
        lab_info("irq-lab without MSI (FEATURES 0x%x, capability %s): profile must ask for MSI",
                 L.features, pci_find_cap(L.pci, PCI_CAP_MSI, 0) ? "present" : "absent");
        if (lab_cmdline_u64("require", 0)) lab_fail("msi-capability", "no MSI");
        return;
    }
    struct msix x;
    if (msix_init(&x, L.pci)) msix_enable(&x, false);
    u32 want = (u32)lab_cmdline_u64("messages", m.capable);
    if (want > m.capable || (want & (want - 1)) || !want) want = m.capable;
    lab_info("MSI: %u message(s) capable, %s-bit, %s; enabling %u at vector 0x%x", m.capable,
             m.is64 ? "64" : "32", m.maskable ? "per-vector masking" : "no masking", want, BASE_VECTOR);
    if (!lab_check(msi_setup(&m, lapic_id(), BASE_VECTOR, want), "setup", "msi_setup refused"))
        return;
    for (u32 v = 0; v < want; v++) irqc_bind((u8)(BASE_VECTOR + v), v, irqlab_hook);
    pci_intx_disable(L.pci, true);
    msi_enable(&m, true);
    u16 ctl = pci_read16(L.pci, (u16)(m.cap + 2));
    lab_check((ctl & 1) && ((ctl >> 4) & 7) == (u32)__builtin_ctz(want), "control",
              "Message Control 0x%x after enabling %u messages", ctl, want);
    u64 fired0 = irqlab_rd64(&L, IRQLAB_FIRED), acked0 = irqlab_rd64(&L, IRQLAB_ACKED);
    test_each_once();
    test_mask();
    test_burst((u32)lab_cmdline_u64("burst", 10000));
    u64 fired = irqlab_rd64(&L, IRQLAB_FIRED) - fired0, acked = irqlab_rd64(&L, IRQLAB_ACKED) - acked0;
    lab_check(fired == total_raised, "device-fired-count", "FIRED grew by %lu, the guest raised %lu",
              fired, total_raised);
    if (L.ack)
        lab_check(acked == total_handled, "device-acked-count", "ACKED grew by %lu, handlers ran %lu times",
                  acked, total_handled);
    lab_printf("LAB-COUNT device=0 raised=%lu fired=%lu handled=%lu acked=%lu\n", total_raised, fired,
               total_handled, acked);
    lab_check(!irqc_unbound && !lab_spurious_count, "no-stray-interrupts",
              "%u on unbound vectors, %u spurious", irqc_unbound, lab_spurious_count);
}
