// Event-channel counters that are not per port: EVTCHNOP calls per (op, result errno) and
// upcalls per vCPU. Kept in a SharedArrayBuffer and bumped with Atomics.add so the fast
// path on vCPU worker threads and the control path on the host thread count into the same
// place; snapshot() turns them into plain numbers for the stats stream.
import { EACCES, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ENOSPC, ENOSYS, ENXIO, EOPNOTSUPP, EPERM, ESRCH, ETIME, errnoName } from '../errno.js';

/** EVTCHNOP_* names by number (public/event_channel.h); index 14 = unknown command. */
export const EVTCHNOP_NAMES = [
  'bind_interdomain', 'bind_virq', 'bind_pirq', 'close', 'send', 'status', 'alloc_unbound',
  'bind_ipi', 'bind_vcpu', 'unmask', 'reset', 'init_control', 'expand_array', 'set_priority', 'unknown',
] as const;
const OPS = EVTCHNOP_NAMES.length;
const SLOTS = [0, EPERM, ENOENT, ESRCH, ENXIO, EACCES, EFAULT, EBUSY, EEXIST, EINVAL, ENOSPC, ENOSYS, ETIME, EOPNOTSUPP] as const;
const OTHER = SLOTS.length;
const NSLOTS = SLOTS.length + 1;

export interface CountersSnapshot {
  /** op name → result name ('ok', 'EINVAL', ...) → count; only non-zero entries. */
  ops: Record<string, Record<string, number>>;
  upcallsPerVcpu: number[];
}

export class EvtchnCounters {
  private readonly w: Int32Array;
  private constructor(
    readonly buffer: SharedArrayBuffer,
    readonly nrVcpus: number,
  ) {
    this.w = new Int32Array(buffer);
  }

  static create(nrVcpus: number): EvtchnCounters {
    return new EvtchnCounters(new SharedArrayBuffer((OPS * NSLOTS + nrVcpus) * 4), nrVcpus);
  }
  static attach(buffer: SharedArrayBuffer, nrVcpus: number): EvtchnCounters {
    return new EvtchnCounters(buffer, nrVcpus);
  }

  /** Count one EVTCHNOP result (0 / positive = ok, negative = errno). */
  op(cmd: number, result: number): void {
    const o = Number.isInteger(cmd) && cmd >= 0 && cmd < OPS - 1 ? cmd : OPS - 1;
    const i = result >= 0 ? 0 : SLOTS.indexOf(-result as (typeof SLOTS)[number]);
    Atomics.add(this.w, o * NSLOTS + (i < 0 ? OTHER : i), 1);
  }

  opCount(cmd: number, result: number): number {
    const i = result >= 0 ? 0 : SLOTS.indexOf(-result as (typeof SLOTS)[number]);
    return Atomics.load(this.w, cmd * NSLOTS + (i < 0 ? OTHER : i));
  }

  upcall(vcpu: number): void {
    if (vcpu >= 0 && vcpu < this.nrVcpus) Atomics.add(this.w, OPS * NSLOTS + vcpu, 1);
  }

  snapshot(): CountersSnapshot {
    const ops: Record<string, Record<string, number>> = {};
    for (let o = 0; o < OPS; o++) {
      for (let s = 0; s < NSLOTS; s++) {
        const n = Atomics.load(this.w, o * NSLOTS + s);
        if (!n) continue;
        const name = s === OTHER ? 'other' : errnoName(-SLOTS[s]!);
        (ops[EVTCHNOP_NAMES[o]!] ??= {})[name] = n;
      }
    }
    const upcallsPerVcpu: number[] = [];
    for (let v = 0; v < this.nrVcpus; v++) upcallsPerVcpu.push(Atomics.load(this.w, OPS * NSLOTS + v));
    return { ops, upcallsPerVcpu };
  }
}
