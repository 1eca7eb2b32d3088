// Time sources injected into device models. Devices never read host time themselves: the
// machine passes a monotonic nanosecond clock and a one-shot timer scheduler, so unit tests
// drive time by hand (see manual-time.ts) and runs are reproducible.

/** Monotonic guest-visible time in nanoseconds (any fixed origin). */
export type Clock = () => bigint;

export interface TimerHandle {
  /** Cancel the timer; harmless if it already fired or was cancelled. */
  cancel(): void;
}

export interface Scheduler {
  /**
   * Run `callback` once when the clock reaches `deadlineNs` (absolute, same origin as the
   * Clock). It may run late: devices recompute their state from the clock when it fires.
   */
  schedule(deadlineNs: bigint, callback: () => void): TimerHandle;
}

export const NS_PER_SEC = 1_000_000_000n;
