/* Interrupt counter table: sources (device vectors) bound to IDT vectors, counted per CPU. */
#include "pci.h"
#include "percpu.h"

volatile u32 irqc_count[IRQC_SOURCES][IRQC_CPUS];
volatile u32 irqc_unbound;
static volatile u32 bound_src[256];
static irqc_hook volatile hooks[256];
#define UNBOUND 0xffffffffu

static bool usable(u32 v) { return v >= 0x20 && v <= 0xfd && v != 0xee; }
u32 irqc_pool_size(void) { return 0xfd - 0x20 + 1 - 1; }
u8 irqc_pool_vector(u32 i) {
    u32 v = 0x20 + i;
    if (v >= 0xee) v++;
    return (u8)v;
}
u32 irqc_cpu_slot(u32 cpu_index) { return cpu_index < IRQC_CPUS ? cpu_index : IRQC_CPUS - 1; }

static void handler(struct lab_frame *f) {
    u32 v = (u32)f->vector, src = bound_src[v];
    u32 cpu = this_cpu_index();
    if (src == UNBOUND || src >= IRQC_SOURCES) {
        atomic_fetch_add32(&irqc_unbound, 1);
    } else {
        irqc_hook h = hooks[v];
        if (h) h(src, cpu);
        atomic_fetch_add32(&irqc_count[src][irqc_cpu_slot(cpu)], 1);
    }
    lapic_eoi();
}

void irqc_bind(u8 vector, u32 src, irqc_hook hook) {
    if (!usable(vector)) return;
    hooks[vector] = hook;
    bound_src[vector] = src;
    lab_set_handler(vector, handler);
}
void irqc_unbind(u8 vector) {
    if (!usable(vector)) return;
    bound_src[vector] = UNBOUND;
    hooks[vector] = 0;
}
u32 irqc_total(u32 src) {
    u32 n = 0;
    for (u32 c = 0; c < IRQC_CPUS; c++) n += irqc_count[src][c];
    return n;
}
void irqc_reset(u32 first, u32 n) {
    for (u32 s = first; s < first + n && s < IRQC_SOURCES; s++)
        for (u32 c = 0; c < IRQC_CPUS; c++) irqc_count[s][c] = 0;
}
