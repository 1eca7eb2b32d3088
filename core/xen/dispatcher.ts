// Hypercall dispatch: number -> handler, on two threads.
//
// On a vCPU thread, `VcpuDispatcher.dispatch(call)` is the single entry every hypercall
// goes through, whatever fed it: the hypercall-page stub's `out 0x9a` exit (xen-vcpu.ts)
// or, on a host whose KVM has Xen support, KVM_EXIT_XEN (fromKvmXenExit below). It checks
// the CPL (-EPERM), runs fast-path handlers right there (no round trip: xen_version,
// sched_op yield/block/poll, and whatever the event-channel core marks fast, such as
// EVTCHNOP_send on IPI/VIRQ/loopback ports), forwards everything else to the host thread
// and counts the final result per hypercall and errno.
// On the host thread, `HostDispatcher.handle(call)` runs the slow-path handlers (port-table
// structure, physdev, hvm, memory, vcpu ops, console, shutdown). Unknown numbers: -ENOSYS.
import { EPERM, ENOSYS } from './errno.js';
import type { GuestArgs } from './guest-access.js';
import { MAX_HYPERCALL, type HypercallCall } from './abi.js';
import type { XenStats } from './xen-stats.js';

export interface HypercallHandler {
  nr: number;
  /** True when this call (by its sub-command) runs on the vCPU thread. Absent: never. */
  fast?(call: HypercallCall): boolean;
  /** Result: >= 0 success, -errno failure. Must not throw for any guest input. */
  handle(call: HypercallCall, guest: GuestArgs): number;
}

export type GuestArgsFor = (call: HypercallCall) => GuestArgs;

class HandlerTable {
  protected readonly table = new Map<number, HypercallHandler>();

  register(h: HypercallHandler): void {
    this.table.set(h.nr, h);
  }

  protected run(h: HypercallHandler | undefined, call: HypercallCall, guest: GuestArgsFor): number {
    if (!h || call.nr >= MAX_HYPERCALL) return -ENOSYS;
    const r = h.handle(call, guest(call));
    return Number.isInteger(r) ? r : -ENOSYS;
  }
}

/** vCPU-thread side. `forward` posts the call to the host thread and returns its result. */
export class VcpuDispatcher extends HandlerTable {
  constructor(
    private readonly stats: XenStats,
    private readonly guest: GuestArgsFor,
    private readonly forward: (call: HypercallCall) => number,
  ) {
    super();
  }

  dispatch(call: HypercallCall): number {
    if (call.cpl !== 0) {
      this.stats.cplDenied();
      this.stats.count(call.nr, -EPERM, true);
      return -EPERM;
    }
    const h = this.table.get(call.nr);
    const fast = h?.fast?.(call) === true || call.nr >= MAX_HYPERCALL;
    const r = fast ? this.run(h, call, this.guest) : this.forward(call);
    this.stats.count(call.nr, r, fast);
    return r;
  }
}

/** Host-thread side: answers forwarded calls. */
export class HostDispatcher extends HandlerTable {
  constructor(private readonly guest: GuestArgsFor) {
    super();
  }

  handle(call: HypercallCall): number {
    return this.run(this.table.get(call.nr), call, this.guest);
  }
}

/**
 * Thin adapter for hosts with in-kernel Xen support (KVM_XEN_HVM_CONFIG with
 * KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL): a KVM_EXIT_XEN of type KVM_EXIT_XEN_HCALL carries
 * `hcall {u32 longmode @4; u32 cpl @8; u64 input @16; u64 result @24; u64 params[6] @32}`
 * (offsets within the exit union; u32 type @0). Feed it to the same dispatcher and write
 * `result` back. Untested here: this machine's KVM has no CONFIG_KVM_XEN, so nothing calls
 * it yet; the paging context must come from the vCPU's sregs as for the port-I/O path.
 */
export function fromKvmXenExit(union: DataView, vcpuId: number, paging: HypercallCall['paging']): HypercallCall {
  const longMode = union.getUint32(4, true) !== 0;
  const input = union.getBigUint64(16, true);
  return {
    vcpuId,
    longMode,
    cpl: union.getUint32(8, true),
    nr: input < BigInt(MAX_HYPERCALL) ? Number(input) : MAX_HYPERCALL,
    args: [0, 1, 2, 3, 4, 5].map((i) => union.getBigUint64(32 + i * 8, true)),
    paging,
  };
}

export const KVM_EXIT_XEN_HCALL = 1;
export const XEN_HCALL_RESULT_OFFSET = 24;
