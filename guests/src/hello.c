/* hello: boot, command line, memory map, ACPI/MADT and MP table sanity. */
#include "lab.h"

LAB_GUEST("hello");

static const char *mem_type(u32 t) {
    switch (t) {
    case 1: return "ram";
    case 2: return "reserved";
    case 3: return "acpi";
    case 4: return "nvs";
    case 5: return "unusable";
    default: return "other";
    }
}

void lab_main(void) {
    lab_printf("Hello from lab guest hello\n");
    lab_info("boot protocol: %s (magic 0x%x, info at 0x%x%s)",
             lab_boot.kind == LAB_BOOT_PVH ? "PVH" : "multiboot", lab_boot.raw_magic,
             lab_boot.info_addr, lab_boot.kind == LAB_BOOT_PVH ? "" : "");
    if (lab_boot.kind == LAB_BOOT_PVH) lab_info("hvm_start_info version %u", lab_boot.pvh_version);
    lab_info("command line: \"%s\"", lab_cmdline());
    lab_check(lab_boot.raw_magic == (lab_boot.kind == LAB_BOOT_PVH ? 0x336ec578u : 0x2BADB002u),
              "boot-magic", "unexpected boot magic 0x%x", lab_boot.raw_magic);

    u64 ram = 0;
    for (u32 i = 0; i < lab_boot.nr_ranges; i++) {
        struct lab_mem_range *r = &lab_boot.ranges[i];
        lab_info("memory: 0x%012lx-0x%012lx %s", r->addr, r->addr + r->size - 1,
                 mem_type(r->type));
        if (r->type == 1) ram += r->size;
    }
    if (lab_boot.kind == LAB_BOOT_MULTIBOOT && (lab_boot.mem_lower_kib || lab_boot.mem_upper_kib))
        lab_info("memory: lower %u KiB, upper %u KiB", lab_boot.mem_lower_kib,
                 lab_boot.mem_upper_kib);
    if (!ram && lab_boot.mem_upper_kib) ram = (u64)(lab_boot.mem_upper_kib + 1024) * 1024;
    lab_info("memory: %lu MiB of RAM", ram >> 20);
    lab_check(ram >= (2u << 20), "memory-map", "no RAM reported by the boot loader");

    /* ACPI */
    lab_check(lab_acpi.rsdp_addr != 0, "acpi-rsdp", "no RSDP (PVH rsdp_paddr nor BIOS area)");
    if (lab_acpi.rsdp_addr)
        lab_info("acpi: RSDP at 0x%lx rev %u (%s), %s, tables: %s", lab_acpi.rsdp_addr,
                 lab_acpi.rsdp_revision, lab_acpi.rsdp_from_hint ? "from hvm_start_info" : "scanned",
                 lab_acpi.used_xsdt ? "XSDT" : "RSDT", acpi_table_list());
    lab_check(lab_acpi.found, "acpi-madt", "no MADT (APIC) table");
    if (!lab_acpi.checksum_errors) lab_pass("acpi-checksums");
    lab_info("madt: lapic at 0x%x flags 0x%x, %u cpus, %u ioapics, %u overrides",
             lab_acpi.lapic_addr, lab_acpi.madt_flags, lab_acpi.ncpus, lab_acpi.nioapics,
             lab_acpi.noverrides);
    for (u32 i = 0; i < lab_acpi.ncpus; i++) lab_info("madt: cpu apic-id %u", lab_acpi.apic_ids[i]);
    for (u32 i = 0; i < lab_acpi.nioapics; i++)
        lab_info("madt: ioapic id %u at 0x%x gsi base %u, %u pins", lab_acpi.ioapics[i].id,
                 lab_acpi.ioapics[i].addr, lab_acpi.ioapics[i].gsi_base,
                 ioapic_max_rte(lab_acpi.ioapics[i].addr) + 1);
    for (u32 i = 0; i < lab_acpi.noverrides; i++) {
        struct lab_override *o = &lab_acpi.overrides[i];
        lab_info("madt: override isa irq %u -> gsi %u flags 0x%x", o->source, o->gsi, o->flags);
    }
    lab_printf("CPU count from MADT: %u\n", lab_acpi.ncpus);
    bool bsp_listed = false;
    u32 bsp = lapic_id();
    for (u32 i = 0; i < lab_acpi.ncpus; i++) bsp_listed |= lab_acpi.apic_ids[i] == bsp;
    lab_check(lab_acpi.ncpus >= 1 && bsp_listed, "madt-cpus",
              "MADT lists %u cpus, BSP apic id %u %s", lab_acpi.ncpus, bsp,
              bsp_listed ? "listed" : "missing");
    lab_check(lab_acpi.nioapics >= 1, "madt-ioapic", "MADT lists no IOAPIC");

    u64 want = lab_cmdline_u64("cpus", 0);
    if (want) lab_check(lab_acpi.ncpus == want, "cpus-expected", "MADT has %u cpus, cmdline says %lu",
                        lab_acpi.ncpus, want);

    /* MP table: optional */
    if (!lab_acpi.mp_found)
        lab_info("mp: no MP floating pointer in 0xF0000-0xFFFFF");
    else if (lab_acpi.mp_checksum_ok) {
        lab_info("mp: floating pointer at 0x%lx", lab_acpi.mp_addr);
        lab_pass("mp-checksum");
    } /* a bad checksum was already reported by the runtime */

    lab_info("time: TSC %lu kHz (%s)", lab_tsc_khz, lab_time_source);
    u64 t0 = lab_now_us();
    lab_mdelay(5);
    u64 dt = lab_now_us() - t0;
    lab_check(dt >= 5000 && dt < 1000000, "time-base", "5 ms delay measured %lu us", dt);

    /* fault=ud|pf|de: end with an exception, to test the exception report and exit status 3 */
    char f[8];
    if (lab_cmdline_get("fault", f, sizeof(f))) {
        lab_info("raising a %s exception on purpose", f);
        if (!strcmp(f, "ud")) __asm__ volatile("ud2");
        if (!strcmp(f, "pf")) (void)*(volatile u64 *)0x8000000000ull; /* beyond the 4 GiB map */
        if (!strcmp(f, "de")) __asm__ volatile("xorl %%edx, %%edx; movl $1, %%eax; divl %0" ::"r"(0u) : "eax", "edx");
    }
}
