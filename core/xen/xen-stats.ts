// Hypercall and upcall counters of one Xen domain, in a SharedArrayBuffer so every thread
// counts with Atomics.add: vCPU threads count every hypercall they dispatch (fast path and
// forwarded ones alike, by final result), upcall injection counts on whichever thread
// delivers. The host thread samples them for MachineStats (core/stats).
import { errnoName } from './errno.js';
import { hypercallName, MAX_HYPERCALL } from './abi.js';

/** Result slots per hypercall: 0 = success, e = -e for e in 1..127, 128 = other errno. */
const SLOTS = 129;
const NRS = MAX_HYPERCALL + 1;
const C = { FAST: 0, FORWARDED: 1, CPL_DENIED: 2, HCALL_PAGES: 3, MSR_GP: 4 } as const;
const EXTRA = 8;

export interface XenStatsSample {
  /** Calls per hypercall name. */
  calls: Record<string, number>;
  /** Failures: "<hypercall> <ERRNO>" -> count. */
  errors: Record<string, number>;
  fastPath: number;
  forwarded: number;
  cplDenied: number;
  hypercallPages: number;
  msrFaults: number;
  /** Upcalls injected per vCPU. */
  upcalls: number[];
}

export class XenStats {
  private readonly c: Int32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly cpus: number,
  ) {
    this.c = new Int32Array(buffer);
  }

  static create(cpus: number): XenStats {
    return new XenStats(new SharedArrayBuffer((NRS * SLOTS + EXTRA + cpus) * 4), cpus);
  }

  count(nr: number, result: number, fast: boolean): void {
    const n = Math.min(Math.max(nr, 0), MAX_HYPERCALL);
    const slot = result >= 0 ? 0 : -result < SLOTS - 1 ? -result : SLOTS - 1;
    Atomics.add(this.c, n * SLOTS + slot, 1);
    Atomics.add(this.c, NRS * SLOTS + (fast ? C.FAST : C.FORWARDED), 1);
  }

  cplDenied(): void {
    Atomics.add(this.c, NRS * SLOTS + C.CPL_DENIED, 1);
  }

  hypercallPage(): void {
    Atomics.add(this.c, NRS * SLOTS + C.HCALL_PAGES, 1);
  }

  msrFault(): void {
    Atomics.add(this.c, NRS * SLOTS + C.MSR_GP, 1);
  }

  upcall(vcpu: number): void {
    if (vcpu >= 0 && vcpu < this.cpus) Atomics.add(this.c, NRS * SLOTS + EXTRA + vcpu, 1);
  }

  sample(): XenStatsSample {
    const calls: Record<string, number> = {};
    const errors: Record<string, number> = {};
    for (let nr = 0; nr < NRS; nr++) {
      let total = 0;
      for (let s = 0; s < SLOTS; s++) {
        const v = Atomics.load(this.c, nr * SLOTS + s);
        if (!v) continue;
        total += v;
        if (s > 0) errors[`${hypercallName(nr)} ${s === SLOTS - 1 ? 'other' : errnoName(-s)}`] = v;
      }
      if (total) calls[nr === MAX_HYPERCALL ? 'out_of_range' : hypercallName(nr)] = total;
    }
    const x = (i: number): number => Atomics.load(this.c, NRS * SLOTS + i);
    return {
      calls, errors,
      fastPath: x(C.FAST), forwarded: x(C.FORWARDED), cplDenied: x(C.CPL_DENIED),
      hypercallPages: x(C.HCALL_PAGES), msrFaults: x(C.MSR_GP),
      upcalls: Array.from({ length: this.cpus }, (_, v) => x(EXTRA + v)),
    };
  }
}
