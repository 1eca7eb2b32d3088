/* irqlab-msix: MSI-X scenarios on the irq-lab device (docs/irq-lab.md): every vector once
 * (2048-vector tables included, on every irq-lab function at once), per-vector mask with
 * pending delivery, function mask, vectors spread over vCPUs, bursts with coalescing.
 * Counts are per device vector (irqc table) and checked against the sequence page.
 * storm_rate=N: the Interrupt Lab demo instead (storm mode, below): never exits. */
#include "irqlab.h"
#include "percpu.h"

LAB_GUEST("irqlab-msix");

static struct irqlab devs[IRQLAB_MAX];
static struct msix tabs[IRQLAB_MAX];
static u32 ndev;
static struct irqlab *L;   /* device under test */
static struct msix *M;
static u32 raised[IRQC_SOURCES]; /* raises the guest asked of L, per vector */
static u64 total_raised, total_handled, fired0;
static u32 K, timeout_ms, settle_ms, bsp_apic;
static u32 cpu_apic[IRQC_CPUS], ncpu = 1;

static void ap_online(u32 idx, u32 apic) { if (idx < IRQC_CPUS) cpu_apic[idx] = apic; }
static u8 vec_of(u32 v) { return irqc_pool_vector(v % K); }
static void bind(u32 v) { irqc_bind(vec_of(v), v, irqlab_hook); }
static void fire(u32 v) { irqlab_wr(L, IRQLAB_FIRE, v); raised[v]++; total_raised++; }
static void fire_range(u32 a, u32 b) {
    irqlab_wr(L, IRQLAB_FIRE_RANGE, a | b << 16);
    for (u32 v = a; v <= b; v++) raised[v]++;
    total_raised += b - a + 1;
}
static bool seq_ok(u32 v) { return !irqlab_has_seq(L, v) || irqlab_seq(L, v) == raised[v]; }
static bool all_counted(u32 a, u32 b, const u32 *want) {
    for (u32 v = a; v <= b; v++)
        if (irqc_total(v) < want[v - a]) return false;
    return true;
}

/* Fire vectors first..last (FIRE_RANGE, at most K at a time so each IDT vector has one
 * source), expect each exactly once, on CPU dest_cpu(v) if spread. Returns handled count. */
static u32 run_rounds(const char *check, u32 first, u32 last, bool spread) {
    static u32 ones[IRQC_SOURCES];
    u32 bad = 0, handled = 0, wrong_cpu = 0, badseq = 0, first_bad = 0xffffffff;
    for (u32 i = 0; i < IRQC_SOURCES; i++) ones[i] = 1;
    irqc_reset(first, last - first + 1);
    for (u32 a = first; a <= last; a += K) {
        u32 b = a + K - 1 < last ? a + K - 1 : last;
        for (u32 v = a; v <= b; v++) bind(v);
        fire_range(a, b);
        LAB_WAIT(all_counted(a, b, ones), timeout_ms);
        lab_mdelay(settle_ms);
        for (u32 v = a; v <= b; v++) {
            u32 n = irqc_total(v);
            handled += n;
            total_handled += n;
            u32 cpu = spread ? (v % ncpu) : 0;
            if (n != 1 && first_bad == 0xffffffff) first_bad = v;
            bad += n != 1;
            wrong_cpu += n == 1 && irqc_count[v][irqc_cpu_slot(cpu)] != 1;
            badseq += !seq_ok(v);
        }
    }
    lab_check(!bad && !wrong_cpu && !badseq, check,
              "%u vectors not handled exactly once (first %u: %u times), %u on the wrong CPU, %u "
              "with a sequence count different from the raises",
              bad, first_bad, first_bad == 0xffffffff ? 0 : irqc_total(first_bad), wrong_cpu, badseq);
    return handled;
}

static void program(bool spread) {
    for (u32 v = 0; v < M->size; v++)
        msix_set(M, v, spread ? cpu_apic[v % ncpu] : bsp_apic, vec_of(v));
}

static void test_setup(struct irqlab *l, struct msix *m, const char *pfx) {
    char c[48];
    lab_snprintf(c, sizeof(c), "%s.capability", pfx);
    if (!lab_check(msix_init(m, l->pci), c, "no MSI-X capability or its BAR is unassigned")) return;
    lab_snprintf(c, sizeof(c), "%s.table-size", pfx);
    lab_check(m->size == l->num_vectors, c, "table size %u, NUM_VECTORS %u", m->size, l->num_vectors);
    lab_info("%s: MSI-X %u vectors, table BAR%u+0x%x (0x%lx), PBA BAR%u+0x%x (0x%lx)", pfx, m->size,
             m->table_bir, m->table_off, m->table, m->pba_bir, m->pba_off, m->pba);
    u32 unmasked = 0, pending = 0;
    for (u32 v = 0; v < m->size; v++) {
        unmasked += !(msix_entry_word(m, v, 3) & 1);
        pending += msix_pending(m, v);
    }
    lab_snprintf(c, sizeof(c), "%s.reset-state", pfx);
    lab_check(!unmasked && !pending, c, "%u entries not masked, %u pending bits set at reset", unmasked, pending);
    u32 bad = 0;
    for (u32 v = 0; v < m->size; v++) {
        msix_set(m, v, bsp_apic, vec_of(v));
        bad += msix_entry_word(m, v, 0) != msi_address(bsp_apic) || msix_entry_word(m, v, 1) != 0 ||
               msix_entry_word(m, v, 2) != vec_of(v);
    }
    lab_snprintf(c, sizeof(c), "%s.table-readback", pfx);
    lab_check(!bad, c, "%u entries read back differently", bad);
    pci_intx_disable(l->pci, true);
    msix_function_mask(m, false);
    msix_enable(m, true);
    lab_snprintf(c, sizeof(c), "%s.enable", pfx);
    lab_check((msix_control(m) & 0xc000) == 0x8000, c, "Message Control 0x%x after enable", msix_control(m));
    for (u32 v = 0; v < m->size; v++) msix_mask(m, v, false);
}

static void test_all_once(u32 d) {
    char c[48];
    L = &devs[d];
    M = &tabs[d];
    irqlab_hook_dev = L;
    lab_snprintf(c, sizeof(c), "dev%u.all-once", d);
    memset(raised, 0, sizeof(raised));
    program(false);
    u32 h = run_rounds(c, 0, M->size - 1, false);
    lab_printf("LAB-COUNT all-once device=%u vectors=0-%u raised=%u handled=%u\n", d, M->size - 1,
               M->size, h);
}

static void test_mask_pending(void) {
    u32 list[3] = {0, M->size / 2, M->size - 1};
    for (u32 i = 0; i < 3; i++) {
        u32 v = list[i];
        if (i && v == list[i - 1]) continue;
        bind(v);
        u32 before = irqc_total(v), seq0 = raised[v];
        msix_mask(M, v, true);
        fire(v);
        fire(v);
        lab_mdelay(settle_ms);
        u32 while_masked = irqc_total(v) - before;
        bool pend = msix_pending(M, v);
        msix_mask(M, v, false);
        LAB_WAIT(irqc_total(v) != before, timeout_ms);
        lab_mdelay(settle_ms);
        u32 got = irqc_total(v) - before;
        total_handled += got;
        lab_check(!while_masked && pend && got == 1 && !msix_pending(M, v) && seq_ok(v),
                  "mask-pending", "vector %u: %u interrupts while masked, PBA %s, %u after unmask "
                  "(want 1), PBA after %u, seq %u want %u", v, while_masked, pend ? "set" : "clear",
                  got, msix_pending(M, v), irqlab_seq(L, v), raised[v]);
        lab_printf("LAB-COUNT mask-pending vector=%u raised=%u handled=%u\n", v, raised[v] - seq0, got);
    }
}

static void test_function_mask(void) {
    u32 last = (M->size < K ? M->size : K) - 1, held = last > 0 ? 0 : 0xffffffff;
    for (u32 v = 0; v <= last; v++) bind(v);
    irqc_reset(0, last + 1);
    if (held != 0xffffffff) msix_mask(M, held, true); /* vector 0 also masked on its own */
    msix_function_mask(M, true);
    fire_range(0, last);
    lab_mdelay(settle_ms);
    u32 early = 0, nopend = 0;
    for (u32 v = 0; v <= last; v++) early += irqc_total(v), nopend += !msix_pending(M, v);
    msix_function_mask(M, false);
    static u32 want[IRQC_SOURCES];
    for (u32 v = 0; v <= last; v++) want[v] = v != held;
    LAB_WAIT(all_counted(0, last, want), timeout_ms);
    lab_mdelay(settle_ms);
    u32 bad = 0, handled = 0;
    for (u32 v = 0; v <= last; v++) {
        handled += irqc_total(v);
        bad += irqc_total(v) != want[v] || msix_pending(M, v) != (v == held) || !seq_ok(v);
    }
    lab_check(!early && !nopend && !bad, "function-mask",
              "%u interrupts while function-masked, %u PBA bits not set, %u vectors wrong after "
              "unmask (count, PBA or seq)", early, nopend, bad);
    if (held != 0xffffffff) {
        msix_mask(M, held, false);
        bool one = LAB_WAIT(irqc_total(held) == 1, timeout_ms);
        lab_mdelay(settle_ms);
        lab_check(one && irqc_total(held) == 1 && !msix_pending(M, held), "function-mask-vector-held",
                  "vector %u masked on its own: %u interrupts after its unmask (want 1)", held,
                  irqc_total(held));
        handled += irqc_total(held);
    }
    total_handled += handled;
    lab_printf("LAB-COUNT function-mask vectors=0-%u raised=%u handled=%u\n", last, last + 1, handled);
}

static void test_spread(void) {
    if (ncpu < 2) {
        lab_info("spread: one CPU only, skipped");
        return;
    }
    program(true);
    run_rounds("spread", 0, M->size - 1, true);
    for (u32 c = 0; c < ncpu; c++) {
        u32 n = 0, h = 0;
        for (u32 v = c; v < M->size; v += ncpu) n++, h += irqc_count[v][irqc_cpu_slot(c)];
        lab_printf("LAB-COUNT spread cpu=%u apic=%u vectors=%u raised=%u handled=%u\n", c, cpu_apic[c], n, n, h);
    }
    program(false);
}

static void burst(const char *check, u32 v, u32 n, bool masked) {
    bind(v);
    irqlab_wr(L, IRQLAB_BURST_COUNT, n);
    if (!lab_check(irqlab_rd(L, IRQLAB_BURST_COUNT) == n, check, "BURST_COUNT reads %u, wrote %u",
                   irqlab_rd(L, IRQLAB_BURST_COUNT), n))
        return;
    u32 before = irqc_total(v), seq0 = irqlab_seq(L, v);
    if (masked) msix_mask(M, v, true);
    irqlab_wr(L, IRQLAB_BURST, v);
    raised[v] += n;
    total_raised += n;
    bool seq_done = LAB_WAIT(irqlab_seq(L, v) == raised[v], timeout_ms + n / 100);
    u32 while_masked = irqc_total(v) - before;
    bool pend = masked && msix_pending(M, v);
    if (masked) msix_mask(M, v, false);
    bool last_seen = LAB_WAIT(irqlab_seen_seq[v] == raised[v], timeout_ms + n / 100);
    lab_mdelay(settle_ms);
    u32 h = irqc_total(v) - before;
    total_handled += h;
    if (masked)
        lab_check(seq_done && !while_masked && pend && h == 1 && last_seen, check,
                  "vector %u: %u raises (want %u), %u interrupts while masked, PBA %s, %u after unmask "
                  "(want 1)", v, irqlab_seq(L, v) - seq0, n, while_masked, pend ? "set" : "clear", h);
    else
        lab_check(seq_done && last_seen && h >= 1 && h <= n, check,
                  "vector %u: %u raises (want %u), %u handled (want 1..%u), last handler saw seq %u "
                  "(want %u)", v, irqlab_seq(L, v) - seq0, n, h, n, irqlab_seen_seq[v], raised[v]);
    lab_printf("LAB-COUNT %s vector=%u raised=%u handled=%u\n", check, v, irqlab_seq(L, v) - seq0, h);
}

/* serve_ms=N: the benchmark's guest side. Every vector of device 0 unmasked on the BSP,
 * handlers counting (and ACKing, for the latency histogram); the host fires. */
static void serve(u32 ms) {
    L = &devs[0];
    M = &tabs[0];
    irqlab_hook_dev = L;
    u32 n = M->size < K ? M->size : K;
    for (u32 v = 0; v < n; v++) bind(v);
    irqc_reset(0, IRQC_SOURCES);
    lab_printf("LAB-READY irqlab-serve vectors=%u\n", n);
    u64 t0 = lab_now_us();
    while (lab_now_us() - t0 < (u64)ms * 1000) __asm__ volatile("sti; hlt" ::: "memory");
    u64 handled = 0;
    for (u32 v = 0; v < n; v++) handled += irqc_total(v);
    lab_printf("LAB-COUNT serve handled=%lu\n", handled);
    lab_pass("serve");
}


/* ---- storm mode (storm_rate=N) ------------------------------------------------------------
 * The "Interrupt Lab: MSI-X storm" demo: every vector of device 0 unmasked, spread over the
 * online CPUs, fired with FIRE_RANGE sweeps at about N interrupts per second, paced by the
 * LAPIC timer (1 kHz, periodic); a status line about once per second; runs until stopped.
 * Vector v goes to IDT vector pool[v % K] on CPU (v / K) % ncpu, so inside each window of
 * K * ncpu consecutive vectors every (CPU, IDT vector) pair is one device vector; the handler
 * ACKs the vector of the window being fired (interrupts still arriving from the previous
 * window are attributed to the current one: the latency histogram is approximate there).
 * A vector the host masks keeps being fired: it goes pending and is delivered on unmask. */
#define STORM_TIMER_VECTOR 0xfe
#define STORM_TICK_HZ 1000
static volatile u64 storm_handled[IRQC_CPUS];
static volatile u64 storm_ticks;
static volatile u32 storm_window;

static u32 pool_index(u32 idt) { return idt - 0x20 - (idt > 0xee); }

static void storm_irq(struct lab_frame *f) {
    u32 cpu = irqc_cpu_slot(this_cpu_index());
    storm_handled[cpu]++;
    if (L->ack) {
        u32 src = storm_window + cpu * K + pool_index((u32)f->vector);
        if (src < M->size) irqlab_wr(L, IRQLAB_ACK, src);
    }
    lapic_eoi();
}

static void storm_tick(struct lab_frame *f) {
    storm_ticks++;
    lapic_eoi();
}

static u64 storm_total_handled(void) {
    u64 n = 0;
    for (u32 c = 0; c < IRQC_CPUS; c++) n += storm_handled[c];
    return n;
}

static void storm(u64 rate) {
    L = &devs[0];
    M = &tabs[0];
    L->ack = lab_cmdline_u64("ack", 1);
    u32 window = K * ncpu, cursor = 0;
    for (u32 i = 0; i < K; i++) lab_set_handler(irqc_pool_vector(i), storm_irq);
    for (u32 v = 0; v < M->size; v++) msix_set(M, v, cpu_apic[(v / K) % ncpu], vec_of(v));
    for (u32 v = 0; v < M->size; v++) msix_mask(M, v, false);
    lab_set_handler(STORM_TIMER_VECTOR, storm_tick);
    lapic_write(LAPIC_TIMER_DIV, 0xB); /* divide by 1 */
    lapic_write(LAPIC_LVT_TIMER, STORM_TIMER_VECTOR | LVT_TIMER_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, (u32)(lab_apic_timer_khz * 1000 / STORM_TICK_HZ));
    u64 status_ms = lab_cmdline_u64("storm_status_ms", 1000);
    lab_printf("STORM start vectors=%u cpus=%u rate=%lu/s window=%u ack=%u\n", M->size, ncpu, rate, window, L->ack);
    u64 t0 = lab_now_us(), fired = 0, next_status = status_ms * 1000, last_fired = 0, last_t = 0;
    for (;;) {
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        u64 now = lab_now_us() - t0;
        u64 due = rate * now / 1000000;
        /* after a pause (VM paused, host busy) do not fire the whole backlog at once */
        if (due > fired + M->size) fired = due - M->size;
        while (fired < due) {
            u32 a = cursor, n = due - fired > M->size - a ? M->size - a : (u32)(due - fired);
            storm_window = (a / window) * window;
            irqlab_wr(L, IRQLAB_FIRE_RANGE, a | (a + n - 1) << 16);
            fired += n;
            cursor = a + n == M->size ? 0 : a + n;
        }
        if (now >= next_status) {
            u64 h = storm_total_handled(), dev = irqlab_rd64(L, IRQLAB_FIRED) - fired0;
            u64 rate_now = (fired - last_fired) * 1000000 / (now - last_t ? now - last_t : 1);
            lab_printf("STORM t=%lus fired=%lu device-fired=%lu handled=%lu rate=%lu/s ticks=%lu\n", now / 1000000, fired,
                       dev, h, rate_now, (u64)storm_ticks);
            last_fired = fired, last_t = now;
            next_status = now + status_ms * 1000;
        }
    }
}

void lab_main(void) {
    pci_init(true);
    K = irqc_pool_size();
    timeout_ms = (u32)lab_cmdline_u64("timeout_ms", 3000);
    settle_ms = (u32)lab_cmdline_u64("settle_ms", 20);
    bsp_apic = lapic_id();
    cpu_apic[0] = bsp_apic;
    ndev = irqlab_count();
    if (!ndev) {
        lab_fail("device", "no irq-lab device (1b36:0100) on bus 0");
        return;
    }
    if (ndev > IRQLAB_MAX) ndev = IRQLAB_MAX;
    for (u32 d = 0; d < ndev; d++) {
        char p[16];
        lab_snprintf(p, sizeof(p), "dev%u", d);
        if (!irqlab_open(&devs[d], d, p)) return;
        devs[d].ack = lab_cmdline_u64("ack", 1);
        lab_check(devs[d].features & IRQLAB_F_MSIX, "feature", "%s: FEATURES 0x%x lacks MSI-X", p, devs[d].features);
        test_setup(&devs[d], &tabs[d], p);
        if (!tabs[d].cap || !(msix_control(&tabs[d]) & 0x8000)) return;
    }
    u32 serve_ms = (u32)lab_cmdline_u64("serve_ms", 0);
    if (serve_ms) {
        serve(serve_ms);
        return;
    }
    /* APs after every BAR is mapped (lab_map_mmio does not shoot down other TLBs) */
    for (u32 i = 0; i < lab_acpi.ncpus && ncpu < IRQC_CPUS; i++)
        if (lab_acpi.apic_ids[i] != bsp_apic && smp_start_ap(lab_acpi.apic_ids[i], ap_online, 2000)) ncpu++;
    lab_info("%u irq-lab device(s), %u CPUs online, %u IDT vectors in the pool", ndev, ncpu, K);
    u64 storm_rate = lab_cmdline_u64("storm_rate", 0);
    if (storm_rate) {
        fired0 = irqlab_rd64(&devs[0], IRQLAB_FIRED);
        storm(storm_rate); /* never returns */
    }
    /* every vector of every device enabled and unmasked at once (route pressure), fired in turn */
    for (u32 d = 0; d < ndev; d++) test_all_once(d);
    L = &devs[0];
    M = &tabs[0];
    irqlab_hook_dev = L;
    memset(raised, 0, sizeof(raised));
    for (u32 v = 0; v < M->size && v < IRQLAB_SEQ_VECTORS; v++) raised[v] = irqlab_seq(L, v);
    fired0 = irqlab_rd64(L, IRQLAB_FIRED);
    u64 acked0 = irqlab_rd64(L, IRQLAB_ACKED);
    total_raised = total_handled = 0;
    irqc_reset(0, IRQC_SOURCES);
    test_mask_pending();
    test_function_mask();
    test_spread();
    u32 n = (u32)lab_cmdline_u64("burst", 10000), bv = (u32)lab_cmdline_u64("burst_vector", 1);
    if (bv >= M->size || bv >= IRQLAB_SEQ_VECTORS) bv = 0;
    burst("burst", bv, n, false);
    burst("burst-masked", bv, n < 100 ? n : 100, true);
    u64 handled = total_handled;
    u64 fired = irqlab_rd64(L, IRQLAB_FIRED) - fired0, acked = irqlab_rd64(L, IRQLAB_ACKED) - acked0;
    lab_check(fired == total_raised, "device-fired-count", "FIRED grew by %lu, the guest raised %lu",
              fired, total_raised);
    if (L->ack)
        lab_check(acked == handled, "device-acked-count", "ACKED grew by %lu, handlers ran %lu times",
                  acked, handled);
    lab_printf("LAB-COUNT device=0 raised=%lu fired=%lu handled=%lu acked=%lu\n", total_raised, fired,
               handled, acked);
    lab_check(!irqc_unbound && !lab_spurious_count, "no-stray-interrupts",
              "%u on unbound vectors, %u spurious", irqc_unbound, lab_spurious_count);
}
