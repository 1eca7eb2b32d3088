/* ioapic: drive ISA IRQ lines through the pc-testdev-style port (outb(0x2000 + irq, level))
 * and check edge and level delivery, remote IRR, masking and destinations. */
#include "lab.h"

LAB_GUEST("ioapic");

#define V_EDGE 0x40
#define V_LEVEL 0x41
#define V_MASKED_LEVEL 0x42
#define V_MASKED_EDGE 0x43
#define V_DEST 0x44

static u16 testdev = 0x2000;
static u8 irq_a = 10, irq_b = 11;

struct line {
    u8 isa;
    struct lab_isa_route route;
    u32 base, pin;
};
static struct line A, B;

enum eoi_mode { EOI_IN_HANDLER, EOI_BY_MAIN, LOWER_THEN_EOI };
struct vstat {
    volatile u32 count;
    volatile u32 last_apic;
    volatile bool isr_set, tmr_set;
    enum eoi_mode mode;
    struct line *line;
};
static struct vstat st[256];

static void set_line(struct line *l, int level) { outb((u16)(testdev + l->isa), (u8)level); }

static void handler(struct lab_frame *f) {
    struct vstat *s = &st[f->vector];
    u8 v = (u8)f->vector;
    s->isr_set = lapic_vector_bit(LAPIC_ISR, v);
    s->tmr_set = lapic_vector_bit(LAPIC_TMR, v);
    s->last_apic = lapic_id();
    atomic_fetch_add32(&s->count, 1);
    if (s->mode == LOWER_THEN_EOI && s->line) set_line(s->line, 0);
    if (s->mode != EOI_BY_MAIN) lapic_eoi();
}

static u64 rte_for(struct line *l, u8 vec, bool level, u32 dest, bool masked) {
    u64 r = vec | ((u64)dest << 56);
    if (level) r |= RTE_LEVEL;
    if (l->route.active_low) r |= RTE_ACTIVE_LOW;
    if (masked) r |= RTE_MASKED;
    return r;
}
static u64 rte(struct line *l) { return ioapic_read_rte(l->base, l->pin); }
static bool setup_line(struct line *l, u8 isa) {
    l->isa = isa;
    l->route = acpi_isa_route(isa);
    if (!ioapic_for_gsi(l->route.gsi, &l->base, &l->pin)) {
        lab_fail("route", "no IOAPIC serves GSI %u (ISA IRQ %u)", l->route.gsi, isa);
        return false;
    }
    lab_info("ISA IRQ %u -> GSI %u (%s) -> IOAPIC 0x%x pin %u, polarity %s", isa, l->route.gsi,
             l->route.overridden ? "MADT override" : "identity", l->base, l->pin,
             l->route.active_low ? "low" : "high");
    return true;
}

static void test_registers(void) {
    struct lab_ioapic_info *io = &lab_acpi.ioapics[0];
    u32 id = ioapic_read(io->addr, 0), ver = ioapic_read(io->addr, 1);
    lab_info("IOAPIC at 0x%x: id reg 0x%x, version reg 0x%x (version 0x%x, %u entries)", io->addr, id,
             ver, ver & 0xff, ((ver >> 16) & 0xff) + 1);
    lab_check(((ver >> 16) & 0xff) >= 23 && ((ver & 0xff) == 0x11 || (ver & 0xff) == 0x20),
              "version-register", "version register 0x%x: want version 0x11/0x20, >= 24 entries", ver);
    lab_check(((id >> 24) & 0xf) == (io->id & 0xf), "id-register", "ID register 0x%x, MADT says %u",
              id, io->id);
    /* RTE read-back: all writable bits, masked so nothing fires. */
    u64 want = rte_for(&A, 0x4a, true, 0x0f, true) | RTE_LOGICAL | (1ull << 8) /* lowest prio */;
    ioapic_write_rte(A.base, A.pin, want);
    u64 got = rte(&A);
    u64 ro = RTE_REMOTE_IRR | RTE_DELIVS;
    lab_check((got & ~ro) == want, "rte-readback", "wrote 0x%lx read 0x%lx", want, got);
    ioapic_write_rte(A.base, A.pin, RTE_MASKED);
}

static void test_edge(u32 bsp) {
    struct vstat *s = &st[V_EDGE];
    s->mode = EOI_IN_HANDLER;
    ioapic_write_rte(A.base, A.pin, rte_for(&A, V_EDGE, false, bsp, false));
    set_line(&A, 1);
    set_line(&A, 0);
    bool ok = LAB_WAIT(s->count >= 1, 500);
    lab_mdelay(20);
    lab_check(ok && s->count == 1 && !s->tmr_set, "edge", "pulse gave %u interrupts (TMR bit %d)",
              s->count, s->tmr_set);
    lab_check(!(rte(&A) & RTE_REMOTE_IRR), "edge-no-remote-irr", "RTE 0x%lx has remote IRR set", rte(&A));
    set_line(&A, 1);
    set_line(&A, 0);
    ok = LAB_WAIT(s->count >= 2, 500);
    lab_mdelay(20);
    lab_check(ok && s->count == 2, "edge-second-pulse", "second pulse: %u interrupts in total", s->count);
    /* Holding the line high gives one edge, not a stream. */
    set_line(&A, 1);
    ok = LAB_WAIT(s->count >= 3, 500);
    lab_mdelay(30);
    u32 n = s->count;
    set_line(&A, 0);
    lab_check(ok && n == 3, "edge-held-high-once", "line held high: %u interrupts (want 1)", n - 2);
    ioapic_write_rte(A.base, A.pin, RTE_MASKED);
}

static void test_level(u32 bsp) {
    struct vstat *s = &st[V_LEVEL];
    s->mode = EOI_BY_MAIN;
    ioapic_write_rte(B.base, B.pin, rte_for(&B, V_LEVEL, true, bsp, false));
    set_line(&B, 1);
    bool ok = LAB_WAIT(s->count >= 1, 500);
    u64 r = rte(&B);
    /* Delivered at all; "exactly once before EOI" is level-no-redelivery-before-eoi below. */
    lab_check(ok && s->count >= 1, "level", "line high: %u interrupts", s->count);
    lab_check_q("auto-eoi", (r & RTE_REMOTE_IRR) != 0, "level-remote-irr-set", "RTE 0x%lx: remote IRR clear before EOI", r);
    lab_check_q("auto-eoi", s->isr_set && s->tmr_set, "level-isr-tmr", "in the handler ISR bit %d, TMR bit %d",
              s->isr_set, s->tmr_set);
    lab_mdelay(20);
    lab_check_q("auto-eoi", s->count == 1, "level-no-redelivery-before-eoi", "%u interrupts before EOI (want 1)", s->count);

    lapic_eoi(); /* line still high: the IOAPIC delivers again */
    ok = LAB_WAIT(s->count >= 2, 500);
    lab_mdelay(10);
    lab_check_q("auto-eoi", ok && s->count == 2, "level-redelivery-after-eoi", "after EOI with the line high: %u interrupts (want 2)",
              s->count);

    set_line(&B, 0); /* lowered before the EOI: no further delivery */
    lapic_eoi();
    lab_mdelay(30);
    r = rte(&B);
    lab_check_q("auto-eoi", s->count == 2 && !(r & RTE_REMOTE_IRR), "level-lowered-before-eoi",
              "%u interrupts (want 2), RTE 0x%lx", s->count, r);
    ioapic_write_rte(B.base, B.pin, RTE_MASKED);
}

static void test_masked(u32 bsp) {
    struct vstat *s = &st[V_MASKED_LEVEL];
    s->mode = LOWER_THEN_EOI;
    s->line = &B;
    ioapic_write_rte(B.base, B.pin, rte_for(&B, V_MASKED_LEVEL, true, bsp, true));
    set_line(&B, 1);
    lab_mdelay(30);
    lab_check(s->count == 0 && !(rte(&B) & RTE_REMOTE_IRR), "masked-level-held", "%u interrupts while masked, RTE 0x%lx",
              s->count, rte(&B));
    ioapic_write_rte(B.base, B.pin, rte_for(&B, V_MASKED_LEVEL, true, bsp, false));
    bool ok = LAB_WAIT(s->count >= 1, 500);
    lab_mdelay(20);
    if (!ok)
        lab_info("unmask: RTE 0x%lx, LAPIC IRR %d ISR %d TMR %d", rte(&B),
                 lapic_vector_bit(LAPIC_IRR, V_MASKED_LEVEL), lapic_vector_bit(LAPIC_ISR, V_MASKED_LEVEL),
                 lapic_vector_bit(LAPIC_TMR, V_MASKED_LEVEL));
    lab_check_q("auto-eoi", ok && s->count == 1, "level-delivered-on-unmask", "unmask with the line high: %u interrupts (want 1)",
              s->count);
    lab_check_q("auto-eoi", !(rte(&B) & RTE_REMOTE_IRR), "level-eoi-clears-remote-irr", "RTE 0x%lx after EOI", rte(&B));
    set_line(&B, 0);
    ioapic_write_rte(B.base, B.pin, RTE_MASKED);

    /* An edge that arrives while masked is not latched (82093AA; KVM; QEMU). */
    struct vstat *e = &st[V_MASKED_EDGE];
    e->mode = EOI_IN_HANDLER;
    ioapic_write_rte(A.base, A.pin, rte_for(&A, V_MASKED_EDGE, false, bsp, true));
    set_line(&A, 1);
    set_line(&A, 0);
    lab_mdelay(10);
    ioapic_write_rte(A.base, A.pin, rte_for(&A, V_MASKED_EDGE, false, bsp, false));
    lab_mdelay(30);
    u32 dropped = e->count;
    set_line(&A, 1);
    set_line(&A, 0);
    bool after = LAB_WAIT(e->count >= dropped + 1, 500);
    lab_check(dropped == 0, "masked-edge-dropped", "edge while masked delivered %u times on unmask", dropped);
    lab_check(after, "edge-after-unmask", "an edge after unmasking was not delivered");
    ioapic_write_rte(A.base, A.pin, RTE_MASKED);
}

static void ap_idle(u32 index, u32 apic_id) {}

/* Between scenarios: lines low, RTEs masked edge (clears a stale remote IRR), LAPIC ISR empty. */
static void cleanup(void) {
    set_line(&A, 0);
    set_line(&B, 0);
    ioapic_write_rte(A.base, A.pin, RTE_MASKED);
    ioapic_write_rte(B.base, B.pin, RTE_MASKED);
    lab_mdelay(2);
    for (int i = 0; i < 16; i++) {
        bool any = false;
        for (u32 r = 0; r < 8; r++) any |= lapic_read(LAPIC_ISR + 0x10 * r) != 0;
        if (!any) break;
        lapic_eoi();
    }
}

static void test_dest(u32 bsp) {
    u32 target = bsp;
    for (u32 i = 0; i < lab_acpi.ncpus; i++) {
        u32 id = lab_acpi.apic_ids[i];
        if (id == bsp || id > 254) continue;
        if (smp_start_ap(id, ap_idle, 1000)) {
            target = id;
            break;
        }
        lab_fail("dest-ap-start", "AP %u did not start", id);
    }
    if (target == bsp) lab_info("single CPU: destination test targets the BSP only");
    struct vstat *s = &st[V_DEST];
    s->mode = EOI_IN_HANDLER;
    s->last_apic = 0xffffffffu;
    ioapic_write_rte(A.base, A.pin, rte_for(&A, V_DEST, false, target, false));
    set_line(&A, 1);
    set_line(&A, 0);
    bool ok = LAB_WAIT(s->count >= 1, 500);
    lab_check(ok && s->last_apic == target, "dest-apic-id", "RTE dest %u: %u interrupts, handled on apic %u",
              target, s->count, s->last_apic);
    if (target != bsp) {
        ioapic_write_rte(A.base, A.pin, rte_for(&A, V_DEST, false, bsp, false));
        set_line(&A, 1);
        set_line(&A, 0);
        ok = LAB_WAIT(s->count >= 2, 500);
        lab_check(ok && s->last_apic == bsp, "dest-retarget", "back to dest %u: handled on apic %u", bsp,
                  s->last_apic);
    }
    ioapic_write_rte(A.base, A.pin, RTE_MASKED);
}

/* tests=a,b,c on the command line runs only those scenarios. */
static bool want(const char *name) {
    char list[128];
    if (!lab_cmdline_get("tests", list, sizeof(list))) return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = p;
        while (*e && *e != ',') e++;
        if ((size_t)(e - p) == n && !strncmp(p, name, n)) return true;
        p = *e ? e + 1 : e;
    }
    return false;
}

void lab_main(void) {
    testdev = (u16)lab_cmdline_u64("testdev", 0x2000);
    irq_a = (u8)lab_cmdline_u64("irq_a", 10);
    irq_b = (u8)lab_cmdline_u64("irq_b", 11);
    if (!lab_check(lab_acpi.nioapics > 0, "madt-ioapic", "no IOAPIC in the MADT")) return;
    if (!setup_line(&A, irq_a) || !setup_line(&B, irq_b)) return;
    static const u8 vecs[] = {V_EDGE, V_LEVEL, V_MASKED_LEVEL, V_MASKED_EDGE, V_DEST};
    for (u32 i = 0; i < sizeof(vecs); i++) lab_set_handler(vecs[i], handler);
    set_line(&A, 0);
    set_line(&B, 0);
    u32 bsp = lapic_id();
    lab_detect_auto_eoi();
    if (want("registers")) test_registers(), cleanup();
    if (want("edge")) test_edge(bsp), cleanup();
    if (want("level")) test_level(bsp), cleanup();
    if (want("masked")) test_masked(bsp), cleanup();
    if (want("dest")) test_dest(bsp), cleanup();
    set_line(&A, 0);
    set_line(&B, 0);
}
