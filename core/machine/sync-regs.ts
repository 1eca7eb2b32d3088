// Register access for the Xen hypercall exit on a vCPU worker: what decodeHypercall needs
// (RAX and the argument registers; CR0/3/4, EFER, CS.L, SS.DPL) and writing the result to
// RAX. Two implementations:
//  - ioctls: KVM_GET_REGS + KVM_GET_SREGS, then KVM_SET_REGS with RAX changed;
//  - KVM_CAP_SYNC_REGS: KVM stores kvm_regs and kvm_sregs in kvm_run at every exit, the addon
//    mirrors them into the worker's shadow at SHADOW_SYNC / SHADOW_SYNC_SREGS, and only the
//    fields needed are read from there (no struct decode). RAX is patched in place and the
//    shadow's dirty flag makes the next vcpuRun hand the whole kvm_regs back to KVM through
//    kvm_dirty_regs: no ioctl per hypercall.
// Worker thread only. A result written through sync regs reaches KVM when the vCPU next runs.
import type { NativeKvm } from '../kvm/addon.js';
import type { Vcpu } from '../kvm/vcpu.js';
import type { Regs } from '../kvm/structs.js';
import type { HypercallRegs, HypercallSregs } from '../xen/abi.js';

export interface HypercallRegisterAccess {
  read(): { regs: HypercallRegs; sregs: HypercallSregs };
  /** Write RAX; the other registers stay as read(). */
  setRax(rax: bigint): void;
}

/** Bit 0 of the shadow's flags byte: the kvm_regs at SHADOW_SYNC go to KVM on the next run. */
const F_REGS_DIRTY = 1;
/** struct kvm_regs: 18 u64 in REG_NAMES order (core/kvm/structs.ts). */
const R = { rax: 0, rbx: 8, rcx: 16, rdx: 24, rsi: 32, rdi: 40, rbp: 56, r8: 64, r9: 72, r10: 80 } as const;
/** struct kvm_sregs: 8 kvm_segment of 24 B (cs first, ss sixth; dpl @16, l @19), 2 dtables, then cr0, cr2, cr3, cr4, cr8, efer. */
const S_CS_L = 0 * 24 + 19;
const S_SS_DPL = 5 * 24 + 16;
const S_CR0 = 8 * 24 + 32;
const S_CR3 = S_CR0 + 16;
const S_CR4 = S_CR0 + 24;
const S_EFER = S_CR0 + 40;

export function ioctlRegisterAccess(vcpu: Pick<Vcpu, 'getRegs' | 'getSregs' | 'setRegs'>): HypercallRegisterAccess {
  let last: Regs | undefined;
  return {
    read: () => {
      last = vcpu.getRegs();
      return { regs: last, sregs: vcpu.getSregs() };
    },
    setRax: (rax) => vcpu.setRegs({ ...last!, rax }),
  };
}

/** Whether the addon can mirror sync regs into a shadow of `shadowSize` bytes (the worker's check; the bench reports it). */
export function addonHasSyncRegs(native: Pick<NativeKvm, 'vcpuSyncRegs' | 'SHADOW_SYNC' | 'SHADOW_SYNC_SREGS' | 'SHADOW_FLAGS'>, shadowSize: number): boolean {
  const { SHADOW_SYNC: ra, SHADOW_SYNC_SREGS: sa, SHADOW_FLAGS: flags } = native;
  return !!native.vcpuSyncRegs && ra !== undefined && sa !== undefined && flags !== undefined && shadowSize >= sa + S_EFER + 8;
}

/** Sync-regs access over the worker's `shadow`, or undefined when the addon lacks it. */
export function syncRegisterAccess(native: NativeKvm, handle: number, shadow: Uint8Array): HypercallRegisterAccess | undefined {
  if (!addonHasSyncRegs(native, shadow.length)) return undefined;
  const { SHADOW_SYNC: ra, SHADOW_SYNC_SREGS: sa, SHADOW_FLAGS: flags } = native as Required<NativeKvm>;
  native.vcpuSyncRegs!(handle, true);
  const dv = new DataView(shadow.buffer, shadow.byteOffset, shadow.byteLength);
  const u64 = (o: number): bigint => dv.getBigUint64(o, true);
  return {
    read: () => ({
      regs: {
        rax: u64(ra + R.rax), rbx: u64(ra + R.rbx), rcx: u64(ra + R.rcx), rdx: u64(ra + R.rdx), rsi: u64(ra + R.rsi),
        rdi: u64(ra + R.rdi), rbp: u64(ra + R.rbp), r8: u64(ra + R.r8), r9: u64(ra + R.r9), r10: u64(ra + R.r10),
      },
      sregs: {
        cs: { l: dv.getUint8(sa + S_CS_L) }, ss: { dpl: dv.getUint8(sa + S_SS_DPL) },
        cr0: u64(sa + S_CR0), cr3: u64(sa + S_CR3), cr4: u64(sa + S_CR4), efer: u64(sa + S_EFER),
      },
    }),
    setRax: (rax) => {
      dv.setBigUint64(ra + R.rax, BigInt.asUintN(64, rax), true);
      shadow[flags] = (shadow[flags] ?? 0) | F_REGS_DIRTY;
    },
  };
}
