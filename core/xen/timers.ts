// Per-vCPU Xen timers on the host thread: the singleshot timer (VCPUOP_set_singleshot_timer,
// set_timer_op) and the periodic timer (VCPUOP_set_periodic_timer). Expiry raises
// VIRQ_TIMER on the vCPU through the event-channel backend (`raise`). Deadlines are Xen
// system time (XenState.nowNs). Node timers have ~1 ms granularity; that is the accuracy
// a guest gets here.
import type { XenState } from './xen-state.js';

const NS_PER_MS = 1_000_000n;

interface VcpuTimers {
  single?: NodeJS.Timeout;
  singleAt?: bigint;
  periodic?: NodeJS.Timeout;
  periodNs?: bigint;
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

  setPeriodic(vcpu: number, periodNs: bigint): void {
    this.stopPeriodic(vcpu);
    const v = this.t[vcpu]!;
    v.periodNs = periodNs;
    v.periodic = setInterval(() => this.fire(vcpu), Math.max(1, Number(periodNs / NS_PER_MS)));
  }

  stopPeriodic(vcpu: number): void {
    const v = this.t[vcpu]!;
    if (v.periodic) clearInterval(v.periodic);
    v.periodic = undefined;
    v.periodNs = undefined;
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
