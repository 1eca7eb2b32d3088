// The x86 hypercall ABI (xen-hvm-interfaces.md §1.3; Xen docs/guest-guide/x86/
// hypercall-abi.rst, xen/arch/x86/hvm/hypercall.c): which registers carry the number, the
// arguments and the result, chosen from the calling code segment at call time.
//   64-bit (CS.L = 1 in long mode): RAX = nr; RDI, RSI, RDX, R10, R8 (R9); result RAX.
//   32-bit / 16-bit:                EAX = nr; EBX, ECX, EDX, ESI, EDI (EBP); result EAX.
// CPL = SS.DPL (Xen hvm_get_cpl); a call from CPL != 0 gets -EPERM.
//
// Also the byte format in which a vCPU thread forwards a decoded call to the host thread
// (the VcpuChannel data area, ExitKind.Hypercall). Pure functions; any thread.
import type { Regs, Segment, Sregs } from '../kvm/structs.js';
import { pagingContext, PagingMode, type PagingContext } from './guest-access.js';
import { EFER_LMA } from '../kvm/x86-regs.js';

// Hypercall numbers (xen/include/public/xen.h __HYPERVISOR_*).
export const HYPERVISOR_set_timer_op = 15;
export const HYPERVISOR_memory_op = 12;
export const HYPERVISOR_multicall = 13;
export const HYPERVISOR_xen_version = 17;
export const HYPERVISOR_console_io = 18;
export const HYPERVISOR_grant_table_op = 20;
export const HYPERVISOR_vm_assist = 21;
export const HYPERVISOR_iret = 23;
export const HYPERVISOR_vcpu_op = 24;
export const HYPERVISOR_sched_op = 29;
export const HYPERVISOR_callback_op = 30;
export const HYPERVISOR_event_channel_op = 32;
export const HYPERVISOR_physdev_op = 33;
export const HYPERVISOR_hvm_op = 34;
/** Hypercall numbers stats are kept for (the hypercall page has 128 stubs). */
export const MAX_HYPERCALL = 128;

export const HYPERCALL_NAMES: Record<number, string> = {
  [HYPERVISOR_set_timer_op]: 'set_timer_op',
  [HYPERVISOR_memory_op]: 'memory_op',
  [HYPERVISOR_multicall]: 'multicall',
  [HYPERVISOR_xen_version]: 'xen_version',
  [HYPERVISOR_console_io]: 'console_io',
  [HYPERVISOR_grant_table_op]: 'grant_table_op',
  [HYPERVISOR_vm_assist]: 'vm_assist',
  [HYPERVISOR_vcpu_op]: 'vcpu_op',
  [HYPERVISOR_sched_op]: 'sched_op',
  [HYPERVISOR_callback_op]: 'callback_op',
  [HYPERVISOR_event_channel_op]: 'event_channel_op',
  [HYPERVISOR_physdev_op]: 'physdev_op',
  [HYPERVISOR_hvm_op]: 'hvm_op',
};

export const hypercallName = (nr: number): string => HYPERCALL_NAMES[nr] ?? `hypercall_${nr}`;

/** One decoded hypercall, the same whatever fed it (port-I/O stub or KVM_EXIT_XEN). */
export interface HypercallCall {
  vcpuId: number;
  /** Hypercall number; values that do not fit 32 bits are MAX_HYPERCALL (-> -ENOSYS). */
  nr: number;
  /** Six arguments, already truncated to 32 bits for the 32-bit ABI. */
  args: bigint[];
  /** 64-bit ABI (and 64-bit struct layouts). */
  longMode: boolean;
  cpl: number;
  /** How guest pointers of this call are translated. */
  paging: PagingContext;
}

const ARGS_64 = ['rdi', 'rsi', 'rdx', 'r10', 'r8', 'r9'] as const;

/** The registers a hypercall exit needs (a full Regs / Sregs will do). */
export type HypercallRegs = Pick<Regs, 'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rbp' | 'r8' | 'r9' | 'r10'>;
export type HypercallSregs = Pick<Sregs, 'cr0' | 'cr3' | 'cr4' | 'efer'> & { cs: Pick<Segment, 'l'>; ss: Pick<Segment, 'dpl'> };
const ARGS_32 = ['rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp'] as const;
const CR0_PE = 1n;
const U32 = 0xffffffffn;

export function isLongModeCode(sregs: HypercallSregs): boolean {
  return (sregs.efer & EFER_LMA) !== 0n && sregs.cs.l === 1;
}

export function currentCpl(sregs: HypercallSregs): number {
  return sregs.cr0 & CR0_PE ? sregs.ss.dpl & 3 : 0;
}

export function decodeHypercall(vcpuId: number, regs: HypercallRegs, sregs: HypercallSregs): HypercallCall {
  const longMode = isLongModeCode(sregs);
  const raw = longMode ? regs.rax : regs.rax & U32;
  return {
    vcpuId,
    nr: raw < BigInt(MAX_HYPERCALL) ? Number(raw) : MAX_HYPERCALL,
    args: (longMode ? ARGS_64 : ARGS_32).map((r) => (longMode ? regs[r] : regs[r] & U32)),
    longMode,
    cpl: currentCpl(sregs),
    paging: pagingContext(sregs),
  };
}

/** `regs` with the result in RAX (sign-extended to 64 bits, or as 32 bits for the 32-bit ABI). */
export function withResult<R extends Pick<Regs, 'rax'>>(regs: R, result: number, longMode: boolean): R {
  return { ...regs, rax: resultRax(regs.rax, result, longMode) };
}

/** RAX after a hypercall returning `result` (sign-extended, or the low 32 bits for the 32-bit ABI). */
export function resultRax(rax: bigint, result: number, longMode: boolean): bigint {
  const r = BigInt(result);
  return longMode ? BigInt.asUintN(64, r) : (rax & ~U32) | BigInt.asUintN(32, r);
}

// Forwarded-call layout in the channel's data area (little-endian):
//   0 u32 nr | 4 u32 flags (bit0 longMode, bit1 PSE, bit2 WP) | 8 u32 vcpu | 12 i32 cpl
//   16 i32 paging mode | 24 u64 cr3 | 32 u64 args[6] | 80 (end)
export const FORWARD_BYTES = 80;

export function encodeForward(c: HypercallCall, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, FORWARD_BYTES);
  dv.setUint32(0, c.nr, true);
  dv.setUint32(4, (c.longMode ? 1 : 0) | (c.paging.pse ? 2 : 0) | (c.paging.wp ? 4 : 0), true);
  dv.setUint32(8, c.vcpuId, true);
  dv.setInt32(12, c.cpl, true);
  dv.setInt32(16, c.paging.mode, true);
  dv.setBigUint64(24, BigInt.asUintN(64, c.paging.cr3), true);
  c.args.forEach((a, i) => dv.setBigUint64(32 + i * 8, BigInt.asUintN(64, a), true));
}

export function decodeForward(b: Uint8Array): HypercallCall {
  const dv = new DataView(b.buffer, b.byteOffset, FORWARD_BYTES);
  const flags = dv.getUint32(4, true);
  return {
    nr: dv.getUint32(0, true),
    longMode: (flags & 1) !== 0,
    vcpuId: dv.getUint32(8, true),
    cpl: dv.getInt32(12, true),
    paging: { mode: dv.getInt32(16, true) as PagingMode, cr3: dv.getBigUint64(24, true), pse: (flags & 2) !== 0, wp: (flags & 4) !== 0 },
    args: [0, 1, 2, 3, 4, 5].map((i) => dv.getBigUint64(32 + i * 8, true)),
  };
}
