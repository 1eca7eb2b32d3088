// What a boot loader hands to the machine: the CPU state the kernel expects at its entry
// point. Loaders write the image and boot structures into guest memory and return this;
// the machine turns it into KVM register state for the boot vCPU.

export type CpuMode =
  /** 32-bit protected mode, flat 4 GiB segments, paging off (PVH, multiboot). */
  | 'protected32'
  /** 64-bit long mode with identity-mapped page tables at `cr3` (Linux 64-bit boot protocol). */
  | 'long64';

export interface BootState {
  mode: CpuMode;
  rip: number;
  /** General-purpose registers the protocol defines (PVH: rbx; multiboot: rax, rbx; Linux: rsi). */
  regs: Partial<Record<'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rsp' | 'rbp', number>>;
  /** long64 only: physical address of the PML4 the loader built. */
  cr3?: number;
  /** long64 only: GDT the loader built (base, limit) whose code selector is `codeSelector`. */
  gdt?: { base: number; limit: number };
  codeSelector?: number;
  dataSelector?: number;
  /** Human-readable description for logs ("PVH ELF, entry 0x100000"). */
  description: string;
}

export interface BootModule {
  /** File content of an initrd / multiboot module. */
  data: Uint8Array;
  cmdline?: string;
}

export interface BootInput {
  kernel: Uint8Array;
  cmdline: string;
  modules: BootModule[];
  /** Physical address of the ACPI RSDP the machine placed, given to PVH guests. */
  rsdpAddr: number;
}
