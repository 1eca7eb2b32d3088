// Xen CPUID leaves for a `platform: xen-hvm` VM (xen-hvm-interfaces.md §1.1; Xen
// xen/include/public/arch-x86/cpuid.h and xen/arch/x86/cpuid.c cpuid_hypervisor_leaves()).
//
// Data flow: cpu-setup's cpuidFor() result (KVM's supported leaves, APIC IDs filled in) ->
// xenCpuid() -> KVM_SET_CPUID2 on the machine thread before the vCPU's worker starts.
// KVM's own paravirt leaves (0x40000000 "KVMKVMKVM", 0x40000001 features) move to
// 0x40000100 with their max-leaf word adjusted, as QEMU does for Xen guests with KVM PV
// features, so guests scanning 0x40000000..0x4000ff00 in 0x100 steps still find both.
import type { CpuidEntry } from '../kvm/structs.js';

export const XEN_CPUID_BASE = 0x40000000;
/** Where KVM's leaves go; they keep their offsets relative to the base. */
export const KVM_CPUID_RELOCATED_BASE = 0x40000100;
/** Leaves B+0..B+4 (QEMU reports B+4 as the largest; Xen's default is B+5). */
export const XEN_CPUID_MAX_LEAF = XEN_CPUID_BASE + 4;
/** "XenVMMXenVMM" as EBX, ECX, EDX. */
export const XEN_SIGNATURE = [0x566e6558, 0x65584d4d, 0x4d4d566e] as const;
/** Xen 4.17: (major << 16) | minor. 4.17 is the first version with UPCALL_VECTOR. */
export const XEN_VERSION_MAJOR = 4;
export const XEN_VERSION_MINOR = 17;
export const XEN_VERSION = (XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR;
/** MSR the guest writes to get a hypercall page (B+2 EBX; 0x40000200 only with Viridian). */
export const XEN_HYPERCALL_MSR = 0x40000000;
export const XEN_HYPERCALL_PAGES = 1;
/** The domain id reported in B+4 ECX and accepted as "own id" by hypercalls. */
export const XEN_DOMID = 0;

// B+4 EAX HVM feature bits (public/arch-x86/cpuid.h XEN_HVM_CPUID_*).
export const XEN_HVM_CPUID_IOMMU_MAPPINGS = 1 << 2;
export const XEN_HVM_CPUID_VCPU_ID_PRESENT = 1 << 3;
export const XEN_HVM_CPUID_DOMID_PRESENT = 1 << 4;
export const XEN_HVM_CPUID_UPCALL_VECTOR = 1 << 6;

const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;
const HYPERVISOR_RANGE_END = 0x40010000;

const leaf = (fn: number, eax: number, ebx = 0, ecx = 0, edx = 0, index = 0, flags = 0): CpuidEntry =>
  ({ function: fn, index, flags, eax, ebx, ecx, edx });

/** The Xen leaves for vCPU `vcpuId`. */
export function xenLeaves(vcpuId: number, domid = XEN_DOMID): CpuidEntry[] {
  const B = XEN_CPUID_BASE;
  const sig = XEN_SIGNATURE;
  return [
    leaf(B, XEN_CPUID_MAX_LEAF, sig[0], sig[1], sig[2]),
    leaf(B + 1, XEN_VERSION),
    leaf(B + 2, XEN_HYPERCALL_PAGES, XEN_HYPERCALL_MSR),
    // B+3 (time): all zero subleaves = "no TSC information offered"; guests fall back.
    ...[0, 1, 2].map((sub) => leaf(B + 3, 0, 0, 0, 0, sub, KVM_CPUID_FLAG_SIGNIFCANT_INDEX)),
    leaf(
      B + 4,
      XEN_HVM_CPUID_IOMMU_MAPPINGS | XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT | XEN_HVM_CPUID_UPCALL_VECTOR,
      vcpuId, domid, 0, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
    ),
  ];
}

/** `entries` with KVM's hypervisor leaves moved to 0x40000100 and the Xen leaves added. */
export function xenCpuid(entries: CpuidEntry[], vcpuId: number): CpuidEntry[] {
  const out: CpuidEntry[] = [];
  for (const e of entries) {
    if (e.function < XEN_CPUID_BASE || e.function >= HYPERVISOR_RANGE_END) {
      out.push(e);
    } else if (e.function < XEN_CPUID_BASE + 0x100) {
      const moved = { ...e, function: e.function - XEN_CPUID_BASE + KVM_CPUID_RELOCATED_BASE };
      // Leaf 0 of a hypervisor block: EAX is the block's largest leaf (KVM may report 0,
      // which guests read as "0x40000001").
      if (e.function === XEN_CPUID_BASE) moved.eax = Math.max(e.eax, XEN_CPUID_BASE + 1) - XEN_CPUID_BASE + KVM_CPUID_RELOCATED_BASE;
      out.push(moved);
    }
    // Anything else in 0x40000100.. would collide with the relocated block: dropped.
  }
  out.push(...xenLeaves(vcpuId));
  return out;
}
