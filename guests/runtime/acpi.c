/* ACPI: RSDP (PVH hint or BIOS-area scan) -> XSDT/RSDT -> MADT, with checksum checks; and
 * the MP floating pointer structure. */
#include "lab.h"

struct lab_acpi lab_acpi;
static char table_sigs[128];
static u64 table_addrs[32];
static u32 ntables;

static u8 sum8(const void *p, u32 len) {
    const u8 *b = p;
    u8 s = 0;
    while (len--) s = (u8)(s + *b++);
    return s;
}
static bool mem_ok(u64 addr, u64 len) { return addr && addr + len <= 0x100000000ull; }

static bool rsdp_valid(u64 a) {
    if (!mem_ok(a, 36)) return false;
    const u8 *p = (const u8 *)(uintptr_t)a;
    if (memcmp(p, "RSD PTR ", 8)) return false;
    return sum8(p, 20) == 0;
}

static u64 find_rsdp(void) {
    if (lab_boot.rsdp_hint) {
        if (rsdp_valid(lab_boot.rsdp_hint)) {
            lab_acpi.rsdp_from_hint = true;
            return lab_boot.rsdp_hint;
        }
        lab_fail("acpi.rsdp", "PVH rsdp_paddr 0x%lx holds no valid RSDP", lab_boot.rsdp_hint);
    }
    for (u64 a = 0xE0000; a < 0x100000; a += 16)
        if (rsdp_valid(a)) return a;
    /* a signature with a bad checksum is worth a failure of its own */
    for (u64 a = 0xE0000; a < 0x100000; a += 16)
        if (!memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8)) {
            lab_acpi.checksum_errors++;
            lab_fail("acpi.checksum", "RSDP at 0x%lx has a bad checksum", a);
            return a;
        }
    return 0;
}

/* Returns the table if its header is sane; reports a bad checksum. */
static const u8 *sdt_at(u64 a) {
    if (!mem_ok(a, 36)) return 0;
    const u8 *t = (const u8 *)(uintptr_t)a;
    u32 len = *(const u32 *)(t + 4);
    if (len < 36 || !mem_ok(a, len)) return 0;
    if (sum8(t, len)) {
        lab_acpi.checksum_errors++;
        lab_fail("acpi.checksum", "table %c%c%c%c at 0x%lx (length %u) has a bad checksum", t[0],
                 t[1], t[2], t[3], a, len);
    }
    return t;
}

static void add_cpu(u32 apic_id) {
    for (u32 i = 0; i < lab_acpi.ncpus; i++)
        if (lab_acpi.apic_ids[i] == apic_id) return;
    if (lab_acpi.ncpus < LAB_MAX_CPUS) lab_acpi.apic_ids[lab_acpi.ncpus++] = apic_id;
}

static void parse_madt(const u8 *t) {
    u32 len = *(const u32 *)(t + 4);
    lab_acpi.found = true;
    lab_acpi.lapic_addr = *(const u32 *)(t + 36);
    lab_acpi.madt_flags = *(const u32 *)(t + 40);
    for (u32 off = 44; off + 2 <= len;) {
        const u8 *e = t + off;
        u8 type = e[0], elen = e[1];
        if (elen < 2 || off + elen > len) break;
        if (type == 0 && elen >= 8) {
            if (*(const u32 *)(e + 4) & 1) add_cpu(e[3]);
        } else if (type == 9 && elen >= 16) {
            if (*(const u32 *)(e + 8) & 1) add_cpu(*(const u32 *)(e + 4));
        } else if (type == 1 && elen >= 12 && lab_acpi.nioapics < LAB_MAX_IOAPICS) {
            struct lab_ioapic_info *io = &lab_acpi.ioapics[lab_acpi.nioapics++];
            io->id = e[2];
            io->addr = *(const u32 *)(e + 4);
            io->gsi_base = *(const u32 *)(e + 8);
        } else if (type == 2 && elen >= 10 && lab_acpi.noverrides < LAB_MAX_OVERRIDES) {
            struct lab_override *o = &lab_acpi.overrides[lab_acpi.noverrides++];
            o->bus = e[2];
            o->source = e[3];
            o->gsi = *(const u32 *)(e + 4);
            o->flags = *(const u16 *)(e + 8);
        }
        off += elen;
    }
}

static void note_sig(const u8 *t) {
    if (ntables < 32) table_addrs[ntables++] = (u64)(uintptr_t)t;
    size_t n = strlen(table_sigs);
    if (n + 6 >= sizeof(table_sigs)) return;
    if (n) table_sigs[n++] = ' ';
    memcpy(table_sigs + n, t, 4);
    table_sigs[n + 4] = 0;
}

static void find_mp(void) {
    for (u64 a = 0xF0000; a < 0x100000; a += 16) {
        const u8 *p = (const u8 *)(uintptr_t)a;
        if (memcmp(p, "_MP_", 4)) continue;
        u32 len = p[8] ? p[8] * 16u : 16u;
        lab_acpi.mp_found = true;
        lab_acpi.mp_addr = a;
        lab_acpi.mp_checksum_ok = a + len <= 0x100000 && sum8(p, len) == 0;
        return;
    }
}

const char *acpi_table_list(void) { return table_sigs; }
const void *acpi_find_table(const char *sig) {
    for (u32 i = 0; i < ntables; i++)
        if (!memcmp((const void *)(uintptr_t)table_addrs[i], sig, 4))
            return (const void *)(uintptr_t)table_addrs[i];
    return 0;
}

void acpi_init(void) {
    find_mp();
    if (lab_acpi.mp_found && !lab_acpi.mp_checksum_ok)
        lab_fail("mp.checksum", "MP floating pointer at 0x%lx has a bad checksum", lab_acpi.mp_addr);

    u64 rsdp = find_rsdp();
    lab_acpi.rsdp_addr = rsdp;
    if (!rsdp) return;
    const u8 *r = (const u8 *)(uintptr_t)rsdp;
    lab_acpi.rsdp_revision = r[15];
    u64 xsdt = 0;
    if (r[15] >= 2) {
        u32 rlen = *(const u32 *)(r + 20);
        if (rlen >= 36 && sum8(r, rlen)) {
            lab_acpi.checksum_errors++;
            lab_fail("acpi.checksum", "RSDP at 0x%lx has a bad extended checksum", rsdp);
        }
        xsdt = *(const u64 *)(r + 24);
    }
    u64 root = xsdt ? xsdt : *(const u32 *)(r + 16);
    u32 esize = xsdt ? 8 : 4;
    lab_acpi.used_xsdt = xsdt != 0;
    const u8 *t = sdt_at(root);
    if (!t) {
        lab_fail("acpi.root", "%s at 0x%lx is not readable", xsdt ? "XSDT" : "RSDT", root);
        return;
    }
    u32 len = *(const u32 *)(t + 4);
    for (u32 off = 36; off + esize <= len; off += esize) {
        u64 a = esize == 8 ? *(const u64 *)(t + off) : *(const u32 *)(t + off);
        const u8 *s = sdt_at(a);
        if (!s) continue;
        note_sig(s);
        if (!memcmp(s, "APIC", 4) && !lab_acpi.found) parse_madt(s);
        /* the DSDT hangs off the FADT: verify its checksum too */
        if (!memcmp(s, "FACP", 4) && *(const u32 *)(s + 4) >= 44) {
            const u8 *d = sdt_at(*(const u32 *)(s + 40));
            if (d) note_sig(d);
        }
    }
}

struct lab_isa_route acpi_isa_route(u8 isa_irq) {
    struct lab_isa_route r = {isa_irq, false, false, false};
    for (u32 i = 0; i < lab_acpi.noverrides; i++) {
        struct lab_override *o = &lab_acpi.overrides[i];
        if (o->bus != 0 || o->source != isa_irq) continue;
        r.gsi = o->gsi;
        r.overridden = true;
        r.active_low = (o->flags & 3) == 3;
        r.level = ((o->flags >> 2) & 3) == 3;
    }
    return r;
}
