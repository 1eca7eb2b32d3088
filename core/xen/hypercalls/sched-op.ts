// HYPERVISOR_sched_op(cmd, arg) (public/sched.h; Xen common/sched/core.c do_sched_op,
// do_poll). yield, block and poll run on the calling vCPU's thread (fast path: blocking
// there is the point); shutdown is forwarded to the host thread, which ends the VM.
//
// SCHEDOP_poll checks its ports through the event-channel backend (pollPort) and is woken
// by any new pending event while its POLLING word is set (XenState.wakePollers).
// Waiting: on the vCPU's wake word in XenState (Atomics.wait), in slices of WAIT_SLICE_MS
// so that pause/stop requests and interrupts that do not go through the wake word (LAPIC
// IRR, checked with KVM_GET_LAPIC on this thread) end the wait within one slice.
import { EFAULT, EINVAL, ENOSYS } from '../errno.js';
import { HYPERVISOR_sched_op } from '../abi.js';
import type { HypercallCall } from '../abi.js';
import type { HypercallHandler } from '../dispatcher.js';
import type { XenState } from '../xen-state.js';
import type { EvtchnBackend } from '../evtchn-seam.js';
import type { XenDomain } from './domain.js';
import { argNum, readStruct } from './util.js';

export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;
export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
/** Xen do_poll: at most 128 ports per call. */
export const MAX_POLL_PORTS = 128;
export const WAIT_SLICE_MS = 10;

/** What the vCPU-thread side needs from its thread. */
export interface VcpuWaitEnv {
  state: XenState;
  vcpuId: number;
  /** The vCPU was asked to pause or stop: give up waiting. */
  interrupted(): boolean;
  /** An interrupt is pending in the LAPIC (IRR non-empty). */
  interruptPending(): boolean;
  evtchn(): EvtchnBackend;
}

const isFastCmd = (call: HypercallCall): boolean => {
  const cmd = argNum(call.args[0]);
  return cmd === SCHEDOP_yield || cmd === SCHEDOP_block || cmd === SCHEDOP_poll;
};

/** Wait until `ready()` or the deadline (system-time ns, 0n = none). */
function waitUntil(env: VcpuWaitEnv, ready: () => boolean, deadlineNs: bigint): void {
  const s = env.state;
  const w = s.wakeWord(env.vcpuId);
  for (;;) {
    const seq = Atomics.load(s.words, w);
    if (ready() || env.interrupted() || env.interruptPending()) return;
    let slice = WAIT_SLICE_MS;
    if (deadlineNs !== 0n) {
      const left = deadlineNs - s.nowNs();
      if (left <= 0n) return;
      slice = Math.min(slice, Math.max(1, Number(left / 1_000_000n)));
    }
    Atomics.wait(s.words, w, seq, slice);
  }
}

function poll(call: HypercallCall, guest: Parameters<HypercallHandler['handle']>[1], env: VcpuWaitEnv): number {
  // 64-bit {u64 ports; u32 nr_ports @8; u64 timeout @16}; 32-bit {u32 ports; u32 nr_ports @4; u64 timeout @8}
  const p = readStruct(guest, call.args[1]!, call.longMode ? 24 : 16);
  if (typeof p === 'number') return p;
  const ports = call.longMode ? p.getBigUint64(0, true) : BigInt(p.getUint32(0, true));
  const n = p.getUint32(call.longMode ? 8 : 4, true);
  const timeout = p.getBigUint64(call.longMode ? 16 : 8, true);
  if (n > MAX_POLL_PORTS) return -EINVAL;
  if (env.state.upcallPending(env.vcpuId)) return 0; // local events need delivery (checked first, as Xen)
  const raw = guest.read(ports, n * 4);
  if (typeof raw === 'number') return -EFAULT;
  const list = Array.from({ length: n }, (_, i) => new DataView(raw.buffer).getUint32(i * 4, true));
  const backend = env.evtchn();
  const check = (port: number): number => backend.pollPort?.(port) ?? -ENOSYS;
  // Polling is published before the first check, so a send after it always wakes us.
  env.state.setPolling(env.vcpuId, true);
  try {
    for (const port of list) {
      const r = check(port);
      if (r < 0) return r;
      if (r > 0) return 0;
    }
    waitUntil(env, () => env.state.upcallPending(env.vcpuId) || list.some((port) => check(port) > 0), timeout);
    return 0;
  } finally {
    env.state.setPolling(env.vcpuId, false);
  }
}

/** The vCPU-thread part: yield, block, poll. */
export function schedOpVcpuHandler(env: VcpuWaitEnv): HypercallHandler {
  return {
    nr: HYPERVISOR_sched_op,
    fast: isFastCmd,
    handle(call, guest) {
      switch (argNum(call.args[0])) {
        case SCHEDOP_yield:
          return 0;
        case SCHEDOP_block:
          waitUntil(env, () => env.state.upcallPending(env.vcpuId), 0n);
          return 0;
        case SCHEDOP_poll:
          return poll(call, guest, env);
        default:
          return -ENOSYS;
      }
    },
  };
}

/** The host-thread part: shutdown (and -ENOSYS for other commands). */
export function schedOpHostHandler(dom: XenDomain): HypercallHandler {
  return {
    nr: HYPERVISOR_sched_op,
    handle(call, guest) {
      if (argNum(call.args[0]) !== SCHEDOP_shutdown) return -ENOSYS;
      const r = readStruct(guest, call.args[1]!, 4); // {u32 reason}
      if (typeof r === 'number') return r;
      const reason = r.getUint32(0, true);
      const detail = `vcpu${call.vcpuId}: SCHEDOP_shutdown reason ${reason}`;
      switch (reason) {
        case SHUTDOWN_poweroff:
          dom.shutdown('poweroff', detail);
          return 0;
        case SHUTDOWN_reboot:
          dom.shutdown('reboot', detail);
          return 0;
        case SHUTDOWN_crash:
        case SHUTDOWN_watchdog:
          dom.shutdown('crash', detail);
          return 0;
        default:
          return -EINVAL; // suspend / soft_reset: not supported by this VMM
      }
    },
  };
}
