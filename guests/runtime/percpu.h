/* Per-CPU data reached through the GS base (no exit to read it). Runtime-internal. */
#ifndef LAB_PERCPU_H
#define LAB_PERCPU_H
#include "lab.h"

struct lab_percpu {
    struct lab_percpu *self; /* must stay first: read with %gs:0 */
    u32 index;
    u32 apic_id;
    bool x2apic;
    volatile bool online;
};
extern struct lab_percpu lab_cpus[LAB_MAX_CPUS];

static inline struct lab_percpu *this_cpu(void) {
    struct lab_percpu *p;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(p));
    return p;
}
static inline u32 this_cpu_index(void) {
    struct lab_percpu *p = this_cpu();
    return p ? p->index : 0;
}
void percpu_setup(u32 index);
void lab_boot_parse(u32 kind, u32 magic, u32 info);

#endif
