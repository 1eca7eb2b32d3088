// A KVM vCPU file descriptor and its register/CPUID/MP-state ioctls. The fd is process-wide,
// so the machine configures the vCPU on its thread and the vCPU worker runs it on its own.
import { nativeKvm } from './addon.js';
import * as K from './constants.js';
import {
  decodeRegs, decodeSregs, encodeCpuid2, encodeRegs, encodeSregs,
  REGS_SIZE, SREGS_SIZE, type CpuidEntry, type Regs, type Sregs,
} from './structs.js';

export class Vcpu {
  constructor(
    readonly id: number,
    readonly fd: number,
  ) {}

  private ioctl(req: number, arg: number | Uint8Array = 0): number {
    return nativeKvm().ioctl(this.fd, req, arg);
  }

  getRegs(): Regs {
    const b = new Uint8Array(REGS_SIZE);
    this.ioctl(K.KVM_GET_REGS, b);
    return decodeRegs(b);
  }

  setRegs(regs: Regs): void {
    this.ioctl(K.KVM_SET_REGS, encodeRegs(regs));
  }

  getSregs(): Sregs {
    const b = new Uint8Array(SREGS_SIZE);
    this.ioctl(K.KVM_GET_SREGS, b);
    return decodeSregs(b);
  }

  setSregs(s: Sregs): void {
    this.ioctl(K.KVM_SET_SREGS, encodeSregs(s));
  }

  setCpuid(entries: CpuidEntry[]): void {
    this.ioctl(K.KVM_SET_CPUID2, encodeCpuid2(entries));
  }

  getMpState(): number {
    const b = new Uint8Array(4);
    this.ioctl(K.KVM_GET_MP_STATE, b);
    return new DataView(b.buffer).getUint32(0, true);
  }

  setMpState(state: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, state, true);
    this.ioctl(K.KVM_SET_MP_STATE, b);
  }

  setMsrs(msrs: [number, bigint][]): void {
    const b = new Uint8Array(8 + msrs.length * 16);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, msrs.length, true);
    msrs.forEach(([index, value], i) => {
      dv.setUint32(8 + i * 16, index, true);
      dv.setBigUint64(8 + i * 16 + 8, value, true);
    });
    this.ioctl(K.KVM_SET_MSRS, b);
  }

  /** Raw LAPIC register page (1 KiB), for register dumps and interrupt-state snapshots. */
  getLapic(): Uint8Array {
    const b = new Uint8Array(1024);
    this.ioctl(K.KVM_GET_LAPIC, b);
    return b;
  }
}
