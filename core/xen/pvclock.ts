// vcpu_time_info (pvclock) in each vcpu_info (xen-hvm-interfaces.md §2): lets a guest turn
// its TSC into Xen system time without a hypercall:
//   system_time_now = system_time + ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32
// (a negative shift shifts right), under a seqlock on `version` (odd while being written).
//
// Data flow: a vCPU thread calibrates once per domain, at its hypercall-MSR write (the first
// thing a Xen guest does): guest TSC (KVM_GET_MSRS IA32_TSC) and TSC kHz (KVM_GET_TSC_KHZ),
// paired with Xen system time (XenState.nowNs, the host's monotonic clock), stored in the
// shared XenState. After that any thread can write any vCPU's time info from that pair:
// shared_info mapped (default slots), VCPUOP_register_vcpu_info, each VIRQ_TIMER, restore.
// All vCPUs of a KVM VM start with one TSC offset, so one pair serves them all. Accuracy:
// the pair straddles one ioctl (a few µs to tens of µs on this backend), and host TSC vs
// CLOCK_MONOTONIC drift is not corrected (a Xen would rewrite the pair periodically).
import { nativeKvm } from '../kvm/addon.js';
import { VCPU_INFO_SIZE, type XenState } from './xen-state.js';

/** vcpu_info.time (struct vcpu_time_info, 32 B) offset and fields (public/xen.h). */
const VI_TIME = 0x20;
const T_VERSION = 0;
const T_TSC_TIMESTAMP = 8;
const T_SYSTEM_TIME = 16;
const T_MUL = 24;
const T_SHIFT = 28;
const T_FLAGS = 29;
/** XEN_PVCLOCK_TSC_STABLE_BIT: the TSC is synchronised across vCPUs. */
export const PVCLOCK_TSC_STABLE = 1 << 0;

/** KVM_GET_TSC_KHZ = _IO(KVMIO, 0xa3); KVM_GET_MSRS = _IOWR(KVMIO, 0x88, struct kvm_msrs). */
const KVM_GET_TSC_KHZ = 0xaea3;
const KVM_GET_MSRS = 0xc008ae88;
/** IA32_TIME_STAMP_COUNTER (Intel SDM vol. 4, MSR 0x10). */
const MSR_IA32_TSC = 0x10;
const NS_PER_SEC = 1_000_000_000n;

/** Xen's set_time_scale(): mul/shift so that ns = ((ticks << shift) * mul) >> 32. */
export function timeScale(tscHz: bigint): { mul: number; shift: number } {
  let tps = tscHz;
  let shift = 0;
  while (tps > 2n * NS_PER_SEC) {
    tps >>= 1n;
    shift--;
  }
  while (tps <= NS_PER_SEC) {
    tps <<= 1n;
    shift++;
  }
  return { mul: Number((NS_PER_SEC << 32n) / tps), shift };
}

/** Guest TSC → ns with a scale (what a guest computes; for tests). */
export function scaleDelta(ticks: bigint, s: { mul: number; shift: number }): bigint {
  const t = s.shift >= 0 ? ticks << BigInt(s.shift) : ticks >> BigInt(-s.shift);
  return (t * BigInt(s.mul)) >> 32n;
}

/** vCPU thread: calibrate once per domain (no-op once done or where KVM cannot tell). */
export function calibrateTsc(state: XenState, vcpuFd: number): void {
  if (state.tscKhz() !== 0n) return;
  const k = nativeKvm();
  let khz: number;
  try {
    khz = k.ioctl(vcpuFd, KVM_GET_TSC_KHZ);
  } catch {
    return;
  }
  if (!(khz > 0)) return;
  const b = new Uint8Array(8 + 16);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 1, true);
  dv.setUint32(8, MSR_IA32_TSC, true);
  const before = state.nowNs();
  if (k.ioctl(vcpuFd, KVM_GET_MSRS, b) !== 1) return;
  const after = state.nowNs();
  state.setTscCalibration(dv.getBigUint64(16, true), (before + after) / 2n, BigInt(khz));
}

/** Any thread: write `vcpu`'s vcpu_time_info for now; false when there is none to write. */
export function writeVcpuTime(state: XenState, vcpu: number): boolean {
  const cal = state.tscCalibration();
  const gpa = state.vcpuInfoGpa(vcpu);
  if (!cal || gpa < 0 || !state.mem.isRam(gpa, VCPU_INFO_SIZE)) return false;
  const now = state.nowNs();
  const tsc = cal.tsc0 + ((now - cal.ns0) * cal.khz) / 1_000_000n;
  const s = timeScale(cal.khz * 1000n);
  const mem = state.mem;
  const at = gpa + VI_TIME;
  // version through Atomics (fenced): odd before the fields change, even after (seqlock)
  const words = new Int32Array(mem.bytes.buffer);
  const vi = (mem.bytes.byteOffset + mem.offsetOf(at + T_VERSION, 4)) / 4;
  const v = Atomics.load(words, vi);
  Atomics.store(words, vi, v | 1);
  mem.writeU64(at + T_TSC_TIMESTAMP, tsc);
  mem.writeU64(at + T_SYSTEM_TIME, now);
  mem.writeU32(at + T_MUL, s.mul);
  mem.writeU8(at + T_SHIFT, s.shift & 0xff);
  mem.writeU8(at + T_FLAGS, PVCLOCK_TSC_STABLE);
  Atomics.store(words, vi, (v | 1) + 1);
  return true;
}
