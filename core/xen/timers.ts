// Per-vCPU Xen timers on the host thread: the singleshot timer (VCPUOP_set_singleshot_timer,
// set_timer_op) and the periodic timer (VCPUOP_set_periodic_timer). Expiry raises
// VIRQ_TIMER on the vCPU through the event-channel backend (`raise`). Deadlines are Xen
// system time (XenState.nowNs). Node timers have ~1 ms granularity; that is the accuracy
// a guest gets here. For save/restore, remaining() reports each armed timer as time left
// (system time is this host's monotonic clock, so absolute deadlines would not carry over)
// and rearm() arms them again relative to now.
import type { XenState } from './xen-state.js';

const NS_PER_MS = 1_000_000n;

interface VcpuTimers {
  single?: NodeJS.Timeout;
  singleAt?: bigint;
  periodic?: NodeJS.Timeout;
  periodNs?: bigint;
  /** System time of the periodic timer's next tick. */
  periodicAt?: bigint;
}

/** One vCPU's armed timers as time left (ns), for save/restore. */
export interface TimersLeft {
  singleshotInNs?: bigint;
  periodNs?: bigint;
  periodicInNs?: bigint;
}

export class XenTimers {
  private readonly t: VcpuTimers[];
  fired = 0;

  constructor(
    private readonly state: XenState,
    private readonly raise: (vcpu: number) => void,
  ) {
    this.t = Array.from({ length: state.cpus }, () => ({}));
  }

  private delayMs(at: bigint): number {
    const d = at - this.state.nowNs();
    return d <= 0n ? 0 : Number((d + NS_PER_MS - 1n) / NS_PER_MS);
  }

  setSingleshot(vcpu: number, atNs: bigint): void {
    this.stopSingleshot(vcpu);
    const v = this.t[vcpu]!;
    v.singleAt = atNs;
    v.single = setTimeout(() => {
      v.single = undefined;
      v.singleAt = undefined;
      this.fire(vcpu);
    }, this.delayMs(atNs));
  }

  stopSingleshot(vcpu: number): void {
    const v = this.t[vcpu]!;
    if (v.single) clearTimeout(v.single);
    v.single = undefined;
    v.singleAt = undefined;
  }

  setPeriodic(vcpu: number, periodNs: bigint, firstInNs = periodNs): void {
    this.stopPeriodic(vcpu);
    const v = this.t[vcpu]!;
    const ms = Math.max(1, Number(periodNs / NS_PER_MS));
    v.periodNs = periodNs;
    v.periodicAt = this.state.nowNs() + firstInNs;
    const tick = (): void => {
      v.periodicAt = this.state.nowNs() + periodNs;
      this.fire(vcpu);
    };
    if (firstInNs === periodNs) {
      v.periodic = setInterval(tick, ms);
      return;
    }
    // Restored mid-period: the first tick after what was left, then every period.
    v.periodic = setTimeout(() => {
      v.periodic = setInterval(tick, ms);
      tick();
    }, this.delayMs(v.periodicAt));
  }

  stopPeriodic(vcpu: number): void {
    const v = this.t[vcpu]!;
    if (v.periodic) clearInterval(v.periodic); // also clears a pending first-tick timeout
    v.periodic = undefined;
    v.periodNs = undefined;
    v.periodicAt = undefined;
  }

  /** What is armed on `vcpu`, as time left from now (save). */
  remaining(vcpu: number): TimersLeft {
    const v = this.t[vcpu]!;
    const now = this.state.nowNs();
    const left = (at: bigint): bigint => (at > now ? at - now : 0n);
    const r: TimersLeft = {};
    if (v.singleAt !== undefined) r.singleshotInNs = left(v.singleAt);
    if (v.periodNs !== undefined) {
      r.periodNs = v.periodNs;
      r.periodicInNs = left(v.periodicAt ?? now);
    }
    return r;
  }

  /** Arm `vcpu`'s timers from time left (restore); anything not given stays stopped. */
  rearm(vcpu: number, t: TimersLeft): void {
    this.stopSingleshot(vcpu);
    this.stopPeriodic(vcpu);
    if (t.singleshotInNs !== undefined) this.setSingleshot(vcpu, this.state.nowNs() + t.singleshotInNs);
    if (t.periodNs !== undefined && t.periodNs > 0n) this.setPeriodic(vcpu, t.periodNs, t.periodicInNs ?? t.periodNs);
  }

  armed(vcpu: number): { singleshotNs?: bigint; periodNs?: bigint } {
    const v = this.t[vcpu]!;
    return { singleshotNs: v.singleAt, periodNs: v.periodNs };
  }

  private fire(vcpu: number): void {
    this.fired++;
    this.raise(vcpu);
  }

  dispose(): void {
    for (let v = 0; v < this.t.length; v++) {
      this.stopSingleshot(v);
      this.stopPeriodic(v);
    }
  }
}
