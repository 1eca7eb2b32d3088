/* lab_map_mmio: uncached 2 MiB identity mappings for device MMIO (BARs, ECAM), including
 * 64-bit BARs placed above 4 GiB (page directories from a small static pool). */
#include "pci.h"

#define PD_POOL 8
static u64 pd_pool[PD_POOL][512] __attribute__((aligned(4096)));
static u32 pd_used;

static u64 *table_at(u64 entry) { return (u64 *)(uintptr_t)(entry & 0x000ffffffffff000ull); }

static u64 *next_level(u64 *e) {
    if (*e & 1) return (*e & 0x80) ? 0 : table_at(*e); /* a 1 GiB page: leave it */
    if (pd_used >= PD_POOL) return 0;
    u64 *t = pd_pool[pd_used++];
    memset(t, 0, 4096);
    *e = (u64)(uintptr_t)t | 3;
    return t;
}

bool lab_map_mmio(u64 addr, u64 len) {
    u64 cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    u64 *pml4 = table_at(cr3);
    bool ok = true;
    for (u64 a = addr & ~0x1fffffull; a < addr + len; a += 0x200000) {
        if (a >= (1ull << 46)) return false;
        u64 *pdpt = next_level(&pml4[(a >> 39) & 511]);
        u64 *pd = pdpt ? next_level(&pdpt[(a >> 30) & 511]) : 0;
        if (!pd) {
            ok = false;
            continue;
        }
        pd[(a >> 21) & 511] = a | 0x83 | 0x18; /* present, writable, 2 MiB, PCD|PWT */
        __asm__ volatile("invlpg (%0)" ::"r"(a) : "memory");
    }
    return ok;
}
