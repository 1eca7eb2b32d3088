// The hypercall page (xen-hvm-interfaces.md §1.2; Xen msr.c guest_wrmsr_xen,
// vmx_init_hypercall_page). The guest writes MSR 0x40000000 (CPUID B+2 EBX) with
// GFN << 12 | index; we fill that RAM page with 128 stubs of 32 bytes,
//   stub i: B8 <i:imm32> (mov eax, i); E6 9A (out 0x9a, al); C3 (ret)
// stub 23 (__HYPERVISOR_iret): 0F 0B (ud2), and the rest 0xCC (int3). The `out` exits to
// the vCPU thread as KVM_EXIT_IO on HYPERCALL_PORT, where the dispatcher takes over; this
// works without in-kernel Xen support (VMCALL would go to KVM's own hypercalls).
//
// The MSR is trapped with KVM_X86_SET_MSR_FILTER (deny 0x40000000 for reads and writes)
// plus KVM_CAP_X86_USER_SPACE_MSR with KVM_MSR_EXIT_REASON_FILTER, so accesses exit to the
// vCPU thread as KVM_EXIT_X86_WRMSR / RDMSR. Answers go in the exit union
// {u8 error @0; u32 reason @8; u32 index @12; u64 data @16}: error = 1 injects #GP.
// Writes with index != 0 or a GFN that is not RAM: #GP. Reads return 0.
// Writing the MSR also latches the shared_info layout (64-bit if the vCPU is in long mode).
import type { GuestMemory } from '../memory/guest-memory.js';
import { HYPERVISOR_iret } from './abi.js';
import { XEN_HYPERCALL_MSR } from './cpuid.js';

export const HYPERCALL_PORT = 0x9a;
export const STUB_SIZE = 32;
export const STUBS = 128;
const PAGE = 4096;
const INT3 = 0xcc;
const MOV_EAX_IMM32 = 0xb8;
const OUT_IMM8_AL = 0xe6;
const RET = 0xc3;
const UD2 = [0x0f, 0x0b];

// KVM_X86_SET_MSR_FILTER (linux/kvm.h): struct kvm_msr_filter {u32 flags; ranges[16] of
// {u32 flags; u32 nmsrs; u32 base; u32 pad; u64 bitmap}}; bit clear in bitmap = deny.
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
export const KVM_MSR_FILTER_READ = 1 << 0;
export const KVM_MSR_FILTER_WRITE = 1 << 1;
export const KVM_MSR_FILTER_MAX_RANGES = 16;
/** linux/kvm.h: INVAL 1 << 0, UNKNOWN 1 << 1, FILTER 1 << 2. */
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;

/** Bytes of the hypercall page. */
export function hypercallPage(): Uint8Array {
  const page = new Uint8Array(PAGE).fill(INT3);
  for (let i = 0; i < STUBS; i++) {
    const o = i * STUB_SIZE;
    if (i === HYPERVISOR_iret) {
      page.set(UD2, o);
      continue;
    }
    page[o] = MOV_EAX_IMM32;
    new DataView(page.buffer).setUint32(o + 1, i, true);
    page.set([OUT_IMM8_AL, HYPERCALL_PORT, RET], o + 5);
  }
  return page;
}

export type MsrWriteResult = { ok: true; gfn: number } | { ok: false; reason: string };

/** Handle a write of `value` to the hypercall MSR: fill the page, or say why it is a #GP. */
export function writeHypercallMsr(mem: GuestMemory, value: bigint): MsrWriteResult {
  const index = Number(value & 0xfffn);
  if (index !== 0) return { ok: false, reason: `page index ${index} != 0` };
  const gpa = value & ~0xfffn;
  if (gpa > BigInt(Number.MAX_SAFE_INTEGER) || !mem.isRam(Number(gpa), PAGE)) {
    return { ok: false, reason: `GFN 0x${(gpa >> 12n).toString(16)} is not RAM` };
  }
  mem.write(Number(gpa), hypercallPage());
  return { ok: true, gfn: Number(gpa >> 12n) };
}

/** The struct kvm_msr_filter that denies (traps) the Xen MSR; `bitmap` must outlive the ioctl. */
export function xenMsrFilter(bitmap: Uint8Array, bitmapAddr: bigint): Uint8Array {
  bitmap.fill(0); // bit 0 clear: deny -> exit to userspace
  const b = new Uint8Array(8 + KVM_MSR_FILTER_MAX_RANGES * 24);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, KVM_MSR_FILTER_DEFAULT_ALLOW, true);
  dv.setUint32(8, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, true);
  dv.setUint32(12, 1, true);
  dv.setUint32(16, XEN_HYPERCALL_MSR, true);
  dv.setBigUint64(24, bitmapAddr, true);
  return b;
}
