// State of one Xen HVM domain that every thread reads: an Int32 table in a
// SharedArrayBuffer (domain words, then one row per vCPU) plus the domain's system-time
// epoch. Written by the host thread (slow-path hypercalls: add_to_physmap, set_param,
// set_evtchn_upcall_vector, register_vcpu_info) and by the vCPU thread that writes the
// hypercall MSR (LONG_MODE latch); read with Atomics by vCPU threads (fast paths, upcall
// injection) and by the event-channel core. A row's fields are stored before the field
// that publishes them (VI_STATE, last).
//
// WAKE is each vCPU's wake word: SCHEDOP_block/poll wait on it (Atomics.wait on the vCPU
// thread); an upcall for that vCPU calls wake(), and any new pending event wakes the vCPUs
// whose POLLING word is set (wakePollers), masked ports included.
import type { GuestMemory } from '../memory/guest-memory.js';

export const D = {
  /** 1 if the shared_info layout is the 64-bit one (latched, §1.2). */
  LONG_MODE: 0,
  /** shared_info GFN, or -1 while unmapped. */
  SHINFO_GFN: 1,
  /** Global callback (HVM_PARAM_CALLBACK_IRQ), resolved: CallbackKind and GSI/vector. */
  CALLBACK_KIND: 2,
  CALLBACK_VALUE: 3,
  /** Level the GSI/INTx callback line should have (vCPU0's upcall_pending), and a change counter. */
  CALLBACK_LEVEL: 4,
  CALLBACK_SEQ: 5,
  /** vCPUs with a per-vCPU upcall vector. */
  PERVCPU_VECTORS: 6,
} as const;
const DOMAIN_WORDS = 16;

export const V = {
  WAKE: 0,
  /** VI_REGISTERED once VCPUOP_register_vcpu_info placed it; otherwise the default slot in
   * shared_info (vCPUs < 32, once shared_info is mapped) or none. */
  VI_STATE: 1,
  VI_GPA_LO: 2,
  VI_GPA_HI: 3,
  /** Per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector), 0 = none. */
  UPCALL_VECTOR: 4,
  APIC_ID: 5,
  /** 1 while the vCPU waits in SCHEDOP_poll (senders wake it, wakePollers). */
  POLLING: 6,
} as const;
const ROW = 8;
/** BigInt64 words after the table: the epoch, then the TSC calibration (pvclock.ts). */
const CLOCK_WORDS = 4;
const C_EPOCH = 0;
const C_TSC0 = 1;
const C_NS0 = 2;
const C_KHZ = 3;

export enum CallbackKind {
  None = 0,
  Gsi = 1,
  Vector = 2,
}

export const VI_REGISTERED = 2;
/** vCPUs 0..31 have a vcpu_info in shared_info (XEN_LEGACY_MAX_VCPUS). */
export const XEN_LEGACY_MAX_VCPUS = 32;
export const VCPU_INFO_SIZE = 64;
export const PAGE_SIZE = 4096;

export interface XenStateInit {
  buffer: SharedArrayBuffer;
  cpus: number;
}

export class XenState {
  readonly words: Int32Array;
  private readonly epoch: BigInt64Array;

  constructor(
    readonly init: XenStateInit,
    readonly mem: GuestMemory,
  ) {
    this.words = new Int32Array(init.buffer, 0, DOMAIN_WORDS + init.cpus * ROW);
    this.epoch = new BigInt64Array(init.buffer, (DOMAIN_WORDS + init.cpus * ROW) * 4, CLOCK_WORDS);
  }

  /** A fresh state for `cpus` vCPUs (APIC ID = vCPU id), epoch = now. */
  static create(cpus: number, mem: GuestMemory): XenState {
    const bytes = (DOMAIN_WORDS + cpus * ROW) * 4;
    const buffer = new SharedArrayBuffer(bytes + CLOCK_WORDS * 8);
    const s = new XenState({ buffer, cpus }, mem);
    s.words[D.SHINFO_GFN] = -1;
    s.words[D.LONG_MODE] = 1;
    for (let v = 0; v < cpus; v++) s.words[DOMAIN_WORDS + v * ROW + V.APIC_ID] = v;
    s.epoch[C_EPOCH] = process.hrtime.bigint();
    return s;
  }

  /**
   * Host thread, vCPUs paused: back to a new domain's values (restore rebuilds from here).
   * APIC IDs, wake counters and the epoch stay: they belong to the machine, not the guest.
   */
  clearDomain(): void {
    for (const w of [D.CALLBACK_KIND, D.CALLBACK_VALUE, D.CALLBACK_LEVEL, D.PERVCPU_VECTORS]) this.set(w, 0);
    this.set(D.SHINFO_GFN, -1);
    this.set(D.LONG_MODE, 1);
    for (let v = 0; v < this.cpus; v++) {
      for (const f of [V.VI_STATE, V.VI_GPA_LO, V.VI_GPA_HI, V.UPCALL_VECTOR, V.POLLING]) this.set(this.vcpuWord(v, f), 0);
    }
  }

  get cpus(): number {
    return this.init.cpus;
  }

  get(word: number): number {
    return Atomics.load(this.words, word);
  }

  set(word: number, v: number): void {
    Atomics.store(this.words, word, v);
  }

  vcpuWord(vcpu: number, field: number): number {
    return DOMAIN_WORDS + vcpu * ROW + field;
  }

  longMode(): boolean {
    return this.get(D.LONG_MODE) === 1;
  }

  /** shared_info's guest-physical address, or -1. */
  sharedInfoGpa(): number {
    const gfn = this.get(D.SHINFO_GFN);
    return gfn < 0 ? -1 : gfn * PAGE_SIZE;
  }

  /** vcpu_info's guest-physical address for `vcpu`, or -1 when it has none. */
  vcpuInfoGpa(vcpu: number): number {
    if (vcpu < 0 || vcpu >= this.cpus) return -1;
    const st = this.get(this.vcpuWord(vcpu, V.VI_STATE));
    if (st === VI_REGISTERED) {
      return (this.get(this.vcpuWord(vcpu, V.VI_GPA_LO)) >>> 0) + (this.get(this.vcpuWord(vcpu, V.VI_GPA_HI)) >>> 0) * 2 ** 32;
    }
    const sh = this.sharedInfoGpa();
    return sh >= 0 && vcpu < XEN_LEGACY_MAX_VCPUS ? sh + vcpu * VCPU_INFO_SIZE : -1;
  }

  setVcpuInfo(vcpu: number, gpa: number): void {
    this.set(this.vcpuWord(vcpu, V.VI_GPA_LO), gpa % 2 ** 32 | 0);
    this.set(this.vcpuWord(vcpu, V.VI_GPA_HI), Math.floor(gpa / 2 ** 32));
    this.set(this.vcpuWord(vcpu, V.VI_STATE), VI_REGISTERED);
  }

  vcpuRegistered(vcpu: number): boolean {
    return this.get(this.vcpuWord(vcpu, V.VI_STATE)) === VI_REGISTERED;
  }

  upcallVector(vcpu: number): number {
    return this.get(this.vcpuWord(vcpu, V.UPCALL_VECTOR));
  }

  apicId(vcpu: number): number {
    return this.get(this.vcpuWord(vcpu, V.APIC_ID));
  }

  /** Xen system time: nanoseconds since the domain was created (CLOCK_MONOTONIC, any thread). */
  nowNs(): bigint {
    return process.hrtime.bigint() - this.epoch[C_EPOCH]!;
  }

  /** Publish the TSC calibration (guest TSC `tsc0` at system time `ns0`; kHz last). */
  setTscCalibration(tsc0: bigint, ns0: bigint, khz: bigint): void {
    Atomics.store(this.epoch, C_TSC0, tsc0);
    Atomics.store(this.epoch, C_NS0, ns0);
    Atomics.store(this.epoch, C_KHZ, khz);
  }

  tscKhz(): bigint {
    return Atomics.load(this.epoch, C_KHZ);
  }

  tscCalibration(): { tsc0: bigint; ns0: bigint; khz: bigint } | null {
    const khz = this.tscKhz();
    return khz > 0n ? { tsc0: Atomics.load(this.epoch, C_TSC0), ns0: Atomics.load(this.epoch, C_NS0), khz } : null;
  }

  wakeWord(vcpu: number): number {
    return this.vcpuWord(vcpu, V.WAKE);
  }

  /** Wake `vcpu` from SCHEDOP_block / SCHEDOP_poll (any thread). */
  wake(vcpu: number): void {
    if (vcpu < 0 || vcpu >= this.cpus) return;
    const w = this.wakeWord(vcpu);
    Atomics.add(this.words, w, 1);
    Atomics.notify(this.words, w);
  }

  /** SCHEDOP_poll: mark `vcpu` as polling (set before its first port check) or done. */
  setPolling(vcpu: number, on: boolean): void {
    this.set(this.vcpuWord(vcpu, V.POLLING), on ? 1 : 0);
  }

  /** An event became pending: wake every vCPU in SCHEDOP_poll (they re-check their ports). */
  wakePollers(): void {
    for (let v = 0; v < this.cpus; v++) if (this.get(this.vcpuWord(v, V.POLLING))) this.wake(v);
  }

  /** Byte offset in guest memory of vcpu_info's evtchn_upcall_pending, or -1. */
  upcallPendingOffset(vcpu: number): number {
    const gpa = this.vcpuInfoGpa(vcpu);
    return gpa < 0 ? -1 : this.mem.offsetOf(gpa, VCPU_INFO_SIZE);
  }

  upcallPending(vcpu: number): boolean {
    const off = this.upcallPendingOffset(vcpu);
    return off >= 0 && Atomics.load(this.mem.bytes, off) !== 0;
  }
}
