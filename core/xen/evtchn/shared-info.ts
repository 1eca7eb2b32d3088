// Where the guest's shared_info page and each vCPU's vcpu_info live in guest RAM, and the
// Atomics views used to touch them. The locations are set on the control path
// (XENMEM_add_to_physmap → setSharedInfo, VCPUOP_register_vcpu_info → registerVcpuInfo) and
// kept in a small SharedArrayBuffer so vCPU worker threads (SharedInfo.attach) see them.
// Both event-channel ABIs use this: 2-level for its bitmaps and pending_sel, FIFO for
// evtchn_upcall_pending (vcpu_mark_events_pending).
//
// Threading: locations are written only by the host thread; the GPA slots are written
// before the Int32 "valid" word that publishes them (Atomics.store), and readers check
// that word first. Guest memory is only touched with Atomics (the guest's vCPUs run
// concurrently), on aligned typed views over the guest-memory SharedArrayBuffer.
//
// Layouts: xen-hvm-interfaces.md §2 (vcpu_info 64 bytes; evtchn_upcall_pending u8 @0,
// evtchn_pending_sel @8 (u64, 64-bit) / @4 (u32, 32-bit)); XEN_LEGACY_MAX_VCPUS = 32 default
// vcpu_info slots at shared_info + 64 * vcpu.
import type { GuestMemory } from '../../memory/guest-memory.js';
import { EBUSY, EINVAL } from '../errno.js';

export const PAGE_SIZE = 4096;
export const VCPU_INFO_SIZE = 64;
export const XEN_LEGACY_MAX_VCPUS = 32;
export const VI_UPCALL_PENDING = 0x00;
export const VI_UPCALL_MASK = 0x01;
export const VI_PENDING_SEL_64 = 0x08;
export const VI_PENDING_SEL_32 = 0x04;

/** Aligned Atomics views over the whole guest-memory buffer. */
export interface AtomicViews {
  u8: Uint8Array;
  i32: Int32Array;
  u64: BigUint64Array;
}

export function atomicViews(buffer: SharedArrayBuffer): AtomicViews {
  return {
    u8: new Uint8Array(buffer),
    i32: new Int32Array(buffer, 0, Math.floor(buffer.byteLength / 4)),
    u64: new BigUint64Array(buffer, 0, Math.floor(buffer.byteLength / 8)),
  };
}

// Int32 words: [0] shared_info valid, [1] long mode, [2] generation, [4 + v] vcpu_info state
// (0 default, 1 registered). Float64 slots (after the Int32 area): [0] shared_info GPA,
// [1 + v] registered vcpu_info GPA.
const I_SHINFO = 0;
const I_LONG = 1;
const I_VCPU = 4;

export class SharedInfo {
  readonly views: AtomicViews;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  private constructor(
    readonly buffer: SharedArrayBuffer,
    readonly mem: GuestMemory,
    readonly nrVcpus: number,
  ) {
    const ints = I_VCPU + nrVcpus + ((I_VCPU + nrVcpus) & 1);
    this.i32 = new Int32Array(buffer, 0, ints);
    this.f64 = new Float64Array(buffer, ints * 4, 1 + nrVcpus);
    this.views = atomicViews(mem.buffer);
  }

  static create(mem: GuestMemory, nrVcpus: number): SharedInfo {
    const ints = I_VCPU + nrVcpus + ((I_VCPU + nrVcpus) & 1);
    return new SharedInfo(new SharedArrayBuffer(ints * 4 + (1 + nrVcpus) * 8), mem, nrVcpus);
  }

  static attach(buffer: SharedArrayBuffer, mem: GuestMemory, nrVcpus: number): SharedInfo {
    return new SharedInfo(buffer, mem, nrVcpus);
  }

  /** Byte offset of [gpa, gpa+len) in the guest-memory buffer, or -1. */
  bufferOffset(gpa: number, len: number): number {
    const off = this.mem.offsetOf(gpa, len);
    return off < 0 ? -1 : this.mem.byteOffset + off;
  }

  get longMode(): boolean {
    return Atomics.load(this.i32, I_LONG) !== 0;
  }

  /** GPA of shared_info, or -1 when not mapped. */
  get sharedInfoGpa(): number {
    return Atomics.load(this.i32, I_SHINFO) ? this.f64[0]! : -1;
  }

  /** Byte offset of shared_info in the guest-memory buffer, or -1. */
  sharedInfoOffset(): number {
    const gpa = this.sharedInfoGpa;
    return gpa < 0 ? -1 : this.bufferOffset(gpa, PAGE_SIZE);
  }

  /** Host thread: shared_info now lives at `gpa` (page-aligned RAM page); -EINVAL otherwise. */
  setSharedInfo(gpa: number, longMode: boolean): number {
    if (!Number.isSafeInteger(gpa) || gpa % PAGE_SIZE !== 0 || this.bufferOffset(gpa, PAGE_SIZE) < 0 || this.bufferOffset(gpa, PAGE_SIZE) % 8 !== 0) {
      return -EINVAL;
    }
    Atomics.store(this.i32, I_SHINFO, 0);
    this.f64[0] = gpa;
    Atomics.store(this.i32, I_LONG, longMode ? 1 : 0);
    Atomics.store(this.i32, I_SHINFO, 1);
    return 0;
  }

  /** Host thread: the guest changed mode (hypercall-page MSR write latches the layout). */
  setLongMode(longMode: boolean): void {
    Atomics.store(this.i32, I_LONG, longMode ? 1 : 0);
  }

  clearSharedInfo(): void {
    Atomics.store(this.i32, I_SHINFO, 0);
  }

  /** GPA of a vCPU's vcpu_info: registered, else the default slot for vCPU < 32; -1 if none. */
  vcpuInfoGpa(vcpu: number): number {
    if (!(vcpu >= 0 && vcpu < this.nrVcpus)) return -1;
    if (Atomics.load(this.i32, I_VCPU + vcpu)) return this.f64[1 + vcpu]!;
    const sh = this.sharedInfoGpa;
    if (sh < 0 || vcpu >= XEN_LEGACY_MAX_VCPUS) return -1;
    return sh + VCPU_INFO_SIZE * vcpu;
  }

  vcpuInfoRegistered(vcpu: number): boolean {
    return vcpu >= 0 && vcpu < this.nrVcpus && Atomics.load(this.i32, I_VCPU + vcpu) !== 0;
  }

  /** Byte offset of a vCPU's vcpu_info in the guest-memory buffer, or -1. */
  vcpuInfoOffset(vcpu: number): number {
    const gpa = this.vcpuInfoGpa(vcpu);
    return gpa < 0 ? -1 : this.bufferOffset(gpa, VCPU_INFO_SIZE);
  }

  /**
   * Host thread: VCPUOP_register_vcpu_info semantics (§1.6): the 64 bytes must be RAM inside
   * one page and 8-byte aligned (-EINVAL); a second registration is -EBUSY. The current
   * contents are copied over, then pending_sel := ~0 and upcall_pending := 1 (Xen raises a
   * spurious event on purpose). Returns 0 or the errno; the caller injects the upcall.
   */
  registerVcpuInfo(vcpu: number, gpa: number): number {
    if (!(vcpu >= 0 && vcpu < this.nrVcpus)) return -EINVAL;
    if (this.vcpuInfoRegistered(vcpu)) return -EBUSY;
    if (!Number.isSafeInteger(gpa) || gpa < 0 || (gpa % PAGE_SIZE) + VCPU_INFO_SIZE > PAGE_SIZE || gpa % 8 !== 0) return -EINVAL;
    const to = this.bufferOffset(gpa, VCPU_INFO_SIZE);
    if (to < 0 || to % 8 !== 0) return -EINVAL;
    const from = this.vcpuInfoOffset(vcpu);
    const u8 = this.views.u8;
    if (from >= 0) u8.copyWithin(to, from, from + VCPU_INFO_SIZE);
    this.f64[1 + vcpu] = gpa;
    Atomics.store(this.i32, I_VCPU + vcpu, 1);
    if (this.longMode) Atomics.store(this.views.u64, (to + VI_PENDING_SEL_64) / 8, ~0n & 0xffffffffffffffffn);
    else Atomics.store(this.views.i32, (to + VI_PENDING_SEL_32) / 4, -1);
    Atomics.store(u8, to + VI_UPCALL_PENDING, 1);
    return 0;
  }

  /** Restore: put a registered vcpu_info back without touching guest memory. */
  restoreVcpuInfo(vcpu: number, gpa: number): void {
    this.f64[1 + vcpu] = gpa;
    Atomics.store(this.i32, I_VCPU + vcpu, 1);
  }

  /** Host thread: forget all registrations (VM reset). */
  clearAll(): void {
    for (let v = 0; v < this.nrVcpus; v++) Atomics.store(this.i32, I_VCPU + v, 0);
    this.clearSharedInfo();
  }

  /** test_and_set(evtchn_upcall_pending): true when it went 0→1 (inject the upcall). */
  markUpcallPending(vcpu: number): boolean {
    const off = this.vcpuInfoOffset(vcpu);
    if (off < 0) return false;
    return Atomics.exchange(this.views.u8, off + VI_UPCALL_PENDING, 1) === 0;
  }

  upcallPending(vcpu: number): boolean {
    const off = this.vcpuInfoOffset(vcpu);
    return off >= 0 && Atomics.load(this.views.u8, off + VI_UPCALL_PENDING) !== 0;
  }
}
