/* Lab guest entry: PVH (Xen ELF note) and multiboot v1 entries, both in 32-bit protected
 * mode with paging off. Builds an identity map of the first 4 GiB with 2 MiB pages, enters
 * long mode and calls lab_start_c(). APs arrive here from the real-mode trampoline. */

#define CS64 0x08
#define DS32 0x10
#define CS32 0x18
#define LAB_MAX_CPUS 64
#define AP_STACK_SIZE 16384
#define BSP_STACK_SIZE 65536

/* ---- multiboot v1 header --------------------------------------------------------------
 * Flags: bit 1 (memory information) only, no a.out kludge: the loader loads the ELF. The
 * linker script puts this section at file offset 0x1fd0 (8144): inside the first 8 KiB
 * (multiboot spec, GRUB) but past QEMU 7.2's scan window (offsets < 8144), because QEMU
 * refuses ELF64 multiboot images and would otherwise never try the PVH note. */
    .section .mbhdr, "a"
    .balign 4
    .globl mb_header
mb_header:
    .long 0x1BADB002
    .long 0x00000002
    .long -(0x1BADB002 + 0x00000002)

/* ---- PVH entry note: XEN_ELFNOTE_PHYS32_ENTRY (18) ----------------------------------------
 * The descriptor is 8 bytes holding the 32-bit physical entry (like Linux on x86-64): QEMU
 * 7.2 reads 8 bytes from an ELF64 note; loaders that read descsz bytes or a u32 agree. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz */
    .long 8                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .quad pvh_entry

/* ---- 32-bit entries ---------------------------------------------------------------------- */
    .section .head, "ax"
    .code32
    .globl _start, mb_entry, pvh_entry, ap_entry32
_start:
mb_entry:
    cli
    cld
    movl %eax, boot_magic
    movl %ebx, boot_info
    movl $2, boot_kind
    jmp common32

pvh_entry:
    cli
    cld
    movl (%ebx), %eax
    movl %eax, boot_magic
    movl %ebx, boot_info
    movl $1, boot_kind

common32:
    lgdt gdt_ptr
    ljmp $CS32, $1f
1:  movl $DS32, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs

    /* zero .bss (page tables and stacks live there) */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories of 2 MiB pages */
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pds, %eax
    orl $3, %eax
    movl $pdpt, %edi
    movl $4, %ecx
2:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 2b

    movl $pds, %edi
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax             /* present, writable, 2 MiB page */
    cmpl $1536, %ecx            /* 3..4 GiB (LAPIC, IOAPIC, PCI holes): uncached */
    jb 4f
    orl $0x18, %eax             /* PCD | PWT */
4:  movl %eax, (%edi)
    addl $8, %edi
    incl %ecx
    cmpl $2048, %ecx
    jb 3b

    xorl %edi, %edi             /* BSP */
    jmp enter_long_mode

/* APs: the trampoline jumps here in 32-bit protected mode using our GDT. */
ap_entry32:
    movl $DS32, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movl $1, %edi               /* AP */

enter_long_mode:
    movl %cr4, %eax
    orl $0x20, %eax             /* PAE */
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx      /* EFER */
    rdmsr
    orl $0x100, %eax            /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax       /* PG | PE */
    movl %eax, %cr0
    ljmp $CS64, $long64

    .code64
long64:
    movl $DS32, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    testl %edi, %edi
    jnz ap64

    movq $bsp_stack_top, %rsp
    xorl %ebp, %ebp
    call lab_start_c
    jmp halt64

ap64:
    movl $1, %eax
    lock xaddl %eax, ap_ticket
    incl %eax                   /* CPU index: BSP is 0, APs 1.. in arrival order */
    cmpl $LAB_MAX_CPUS, %eax
    jae halt64
    movl %eax, %edi
    movl %eax, %ecx
    imulq $AP_STACK_SIZE, %rcx
    leaq ap_stacks(%rcx), %rsp  /* top of stack (index-1) */
    xorl %ebp, %ebp
    call ap_entry_c
halt64:
    cli
    hlt
    jmp halt64

/* ---- GDT ------------------------------------------------------------------------------------ */
    .balign 16
    .globl lab_gdt, lab_gdt_ptr
lab_gdt:
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF    /* 0x10: flat data */
    .quad 0x00CF9A000000FFFF    /* 0x18: flat 32-bit code */
gdt_end:
    .balign 8
lab_gdt_ptr:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
    .long 0

/* ---- AP real-mode trampoline, copied to SMP_TRAMPOLINE (0x8000) ------------------------------ */
#define TRAMP_BASE 0x8000
#define T(x) ((x) - ap_tramp_start + TRAMP_BASE)
    .section .rodata.tramp, "a"
    .globl ap_tramp_start, ap_tramp_end
    .code16
ap_tramp_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl T(tramp_gdt_ptr)
    movl %cr0, %eax
    andl $0x9FFFFFFF, %eax      /* caches on: clear CD, NW (reset state has them set) */
    orl $1, %eax                /* PE */
    movl %eax, %cr0
    ljmpl $CS32, $T(tramp32)
    .code32
tramp32:
    movl $DS32, %eax
    movl %eax, %ds
    movl %eax, %ss
    movl $ap_entry32, %eax
    jmp *%eax
    .balign 8
tramp_gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
ap_tramp_end:

/* ---- data -------------------------------------------------------------------------------- */
    .data
    .balign 4
    .globl boot_magic, boot_info, boot_kind, ap_ticket
boot_magic: .long 0
boot_info:  .long 0
boot_kind:  .long 0
ap_ticket:  .long 0

    .bss
    .balign 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pds:    .skip 4096 * 4
    .balign 16
    .globl ap_stacks
bsp_stack: .skip BSP_STACK_SIZE
bsp_stack_top:
ap_stacks: .skip AP_STACK_SIZE * (LAB_MAX_CPUS - 1)

    .section .note.GNU-stack, "", @progbits
