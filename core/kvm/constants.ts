// Named constants from <linux/kvm.h> (Debian linux-libc-dev 6.1, x86-64). ioctl numbers were
// computed from the header's _IO/_IOR/_IOW macros by a C program, not written by hand.

// System ioctls (on /dev/kvm)
export const KVM_GET_API_VERSION = 0xae00;
export const KVM_CREATE_VM = 0xae01;
export const KVM_CHECK_EXTENSION = 0xae03;
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;
export const KVM_GET_MSR_INDEX_LIST = 0xc004ae02;

// VM ioctls
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
export const KVM_SET_TSS_ADDR = 0xae47;
export const KVM_SET_IDENTITY_MAP_ADDR = 0x4008ae48;
export const KVM_CREATE_VCPU = 0xae41;
export const KVM_CREATE_IRQCHIP = 0xae60;
export const KVM_IRQ_LINE = 0x4008ae61;
export const KVM_IRQ_LINE_STATUS = 0xc008ae67;
export const KVM_SET_GSI_ROUTING = 0x4008ae6a;
export const KVM_IRQFD = 0x4020ae76;
export const KVM_SIGNAL_MSI = 0x4020aea5;
export const KVM_ENABLE_CAP = 0x4068aea3;
export const KVM_CREATE_PIT2 = 0x4040ae77;
export const KVM_IOEVENTFD = 0x4040ae79;
export const KVM_GET_STATS_FD = 0xaece;
export const KVM_X86_SET_MSR_FILTER = 0x4188aec6;
export const KVM_GET_IRQCHIP = 0xc208ae62;
export const KVM_SET_IRQCHIP = 0x8208ae63;

// vCPU ioctls
export const KVM_RUN = 0xae80;
export const KVM_GET_REGS = 0x8090ae81;
export const KVM_SET_REGS = 0x4090ae82;
export const KVM_GET_SREGS = 0x8138ae83;
export const KVM_SET_SREGS = 0x4138ae84;
export const KVM_SET_CPUID2 = 0x4008ae90;
export const KVM_GET_MP_STATE = 0x8004ae98;
export const KVM_SET_MP_STATE = 0x4004ae99;
export const KVM_GET_LAPIC = 0x8400ae8e;
export const KVM_SET_LAPIC = 0x4400ae8f;
export const KVM_SET_MSRS = 0x4008ae89;
export const KVM_GET_MSRS = 0xc008ae88;
export const KVM_GET_VCPU_EVENTS = 0x8040ae9f;
export const KVM_SET_VCPU_EVENTS = 0x4040aea0;

// Capabilities (KVM_CHECK_EXTENSION)
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_USER_NMI = 22;
export const KVM_CAP_IRQ_ROUTING = 25;
export const KVM_CAP_IRQ_INJECT_STATUS = 26;
export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_XEN_HVM = 38;
export const KVM_CAP_HYPERV = 44;
export const KVM_CAP_GET_TSC_KHZ = 61;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_SYNC_REGS = 74;
export const KVM_CAP_SIGNAL_MSI = 77;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_IRQFD_RESAMPLE = 82;
export const KVM_CAP_SPLIT_IRQCHIP = 121;
export const KVM_CAP_X2APIC_API = 129;
export const KVM_CAP_MSI_DEVID = 131;
export const KVM_CAP_IMMEDIATE_EXIT = 136;
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
export const KVM_CAP_X86_MSR_FILTER = 189;
export const KVM_CAP_EXIT_HYPERCALL = 201;
export const KVM_CAP_BINARY_STATS_FD = 203;

/** Capability names for `vmm info` and error messages. */
export const CAPABILITY_NAMES: Record<number, string> = {
  [KVM_CAP_IRQCHIP]: 'IRQCHIP',
  [KVM_CAP_USER_MEMORY]: 'USER_MEMORY',
  [KVM_CAP_SET_TSS_ADDR]: 'SET_TSS_ADDR',
  [KVM_CAP_EXT_CPUID]: 'EXT_CPUID',
  [KVM_CAP_NR_VCPUS]: 'NR_VCPUS',
  [KVM_CAP_NR_MEMSLOTS]: 'NR_MEMSLOTS',
  [KVM_CAP_MP_STATE]: 'MP_STATE',
  [KVM_CAP_USER_NMI]: 'USER_NMI',
  [KVM_CAP_IRQ_ROUTING]: 'IRQ_ROUTING',
  [KVM_CAP_IRQ_INJECT_STATUS]: 'IRQ_INJECT_STATUS',
  [KVM_CAP_IRQFD]: 'IRQFD',
  [KVM_CAP_PIT2]: 'PIT2',
  [KVM_CAP_IOEVENTFD]: 'IOEVENTFD',
  [KVM_CAP_XEN_HVM]: 'XEN_HVM',
  [KVM_CAP_HYPERV]: 'HYPERV',
  [KVM_CAP_GET_TSC_KHZ]: 'GET_TSC_KHZ',
  [KVM_CAP_MAX_VCPUS]: 'MAX_VCPUS',
  [KVM_CAP_SYNC_REGS]: 'SYNC_REGS',
  [KVM_CAP_SIGNAL_MSI]: 'SIGNAL_MSI',
  [KVM_CAP_READONLY_MEM]: 'READONLY_MEM',
  [KVM_CAP_IRQFD_RESAMPLE]: 'IRQFD_RESAMPLE',
  [KVM_CAP_SPLIT_IRQCHIP]: 'SPLIT_IRQCHIP',
  [KVM_CAP_X2APIC_API]: 'X2APIC_API',
  [KVM_CAP_MSI_DEVID]: 'MSI_DEVID',
  [KVM_CAP_IMMEDIATE_EXIT]: 'IMMEDIATE_EXIT',
  [KVM_CAP_X86_USER_SPACE_MSR]: 'X86_USER_SPACE_MSR',
  [KVM_CAP_X86_MSR_FILTER]: 'X86_MSR_FILTER',
  [KVM_CAP_EXIT_HYPERCALL]: 'EXIT_HYPERCALL',
  [KVM_CAP_BINARY_STATS_FD]: 'BINARY_STATS_FD',
};

// Exit reasons (kvm_run.exit_reason)
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;
export const KVM_EXIT_IOAPIC_EOI = 26;
export const KVM_EXIT_X86_RDMSR = 29;
export const KVM_EXIT_X86_WRMSR = 30;
export const KVM_EXIT_XEN = 34;

export const EXIT_REASON_NAMES: Record<number, string> = {
  0: 'UNKNOWN', 1: 'EXCEPTION', 2: 'IO', 3: 'HYPERCALL', 4: 'DEBUG', 5: 'HLT', 6: 'MMIO',
  7: 'IRQ_WINDOW_OPEN', 8: 'SHUTDOWN', 9: 'FAIL_ENTRY', 10: 'INTR', 16: 'NMI',
  17: 'INTERNAL_ERROR', 24: 'SYSTEM_EVENT', 26: 'IOAPIC_EOI', 29: 'X86_RDMSR',
  30: 'X86_WRMSR', 34: 'XEN',
};

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

// KVM_EXIT_SYSTEM_EVENT types
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

// kvm_mp_state.mp_state
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;

// KVM_SET_GSI_ROUTING entry types
export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQ_ROUTING_MSI = 2;
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;
export const KVM_MAX_IRQ_ROUTES = 4096;

// KVM_IOEVENTFD flags (struct kvm_ioeventfd: u64 datamatch, u64 addr, u32 len, s32 fd, u32 flags, u8 pad[36])
export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
export const KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;

// KVM_IRQFD flags
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;

/** Size of struct kvm_run's exit union and where the shadow copy of it starts. */
export const RUN_EXIT_REASON = 8;
export const RUN_IF_FLAG = 13;
export const RUN_CR8 = 16;
export const RUN_APIC_BASE = 24;
export const RUN_UNION = 32;
