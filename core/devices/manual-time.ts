// A hand-driven Clock + Scheduler for tests and deterministic replays: time only moves when
// advance()/advanceTo() is called, and due timers fire in deadline order (FIFO on ties),
// including timers scheduled by callbacks that fall inside the advanced window.
import type { Clock, Scheduler, TimerHandle } from './time.js';

interface PendingTimer {
  deadline: bigint;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

export class ManualTime implements Scheduler {
  private nowNs: bigint;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startNs = 0n) {
    this.nowNs = startNs;
  }

  /** A Clock bound to this instance. */
  readonly clock: Clock = () => this.nowNs;

  now(): bigint {
    return this.nowNs;
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  schedule(deadlineNs: bigint, callback: () => void): TimerHandle {
    const timer: PendingTimer = { deadline: deadlineNs, seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  advance(deltaNs: bigint | number): void {
    this.advanceTo(this.nowNs + BigInt(deltaNs));
  }

  /** Move time to `targetNs`, firing every timer due on the way at its own deadline. */
  advanceTo(targetNs: bigint): void {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const t of this.timers) {
        if (t.deadline > targetNs) continue;
        if (!next || t.deadline < next.deadline || (t.deadline === next.deadline && t.seq < next.seq)) next = t;
      }
      if (!next) break;
      next.cancelled = true;
      if (next.deadline > this.nowNs) this.nowNs = next.deadline;
      next.callback();
    }
    if (targetNs > this.nowNs) this.nowNs = targetNs;
  }
}
