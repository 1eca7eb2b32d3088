// The seam between the platform plumbing (this directory) and the event-channel core
// (core/xen/evtchn/). Handlers (hypercalls/evtchn-ops.ts, hypercalls/sched-op.ts) and the
// timers see only EvtchnBackend; the adapters below build it from the core:
//   - host thread: hostEvtchn(EventChannels) — every EVTCHNOP that reaches the host (the
//     control path; isControlPathOp), VIRQ_TIMER from the vCPU timers;
//   - vCPU thread: vcpuEvtchn(EvtchnDelivery attached to EventChannels.buffers()) — the
//     fast path (EVTCHNOP_send / unmask, no round trip) and SCHEDOP_poll's port checks;
//   - both: xenUpcall(), the core's Upcall: raise(vcpu) ends in UpcallInjector.inject (the
//     core has already set evtchn_upcall_pending 0→1), eventPending(vcpu) wakes vCPUs in
//     SCHEDOP_poll (Xen evtchn_check_pollers; also for masked ports).
// physdev_op answers -ENOSYS until the PIRQ layer provides physdevOp.
import { EINVAL } from './errno.js';
import type { HypercallCall } from './abi.js';
import type { GuestArgs } from './guest-access.js';
import type { XenState } from './xen-state.js';
import type { UpcallInjector } from './upcall.js';
import type { EventChannels } from './evtchn/evtchn.js';
import type { EvtchnDelivery } from './evtchn/delivery.js';
import { isControlPathOp } from './evtchn/dispatch.js';
import type { Upcall } from './evtchn/types.js';
import { argNum } from './hypercalls/util.js';

export interface EvtchnBackend {
  /** HYPERVISOR_event_channel_op(cmd, arg). */
  eventChannelOp(call: HypercallCall, guest: GuestArgs): number;
  /** True for sub-commands that run on the calling vCPU's thread. */
  eventChannelFast?(call: HypercallCall): boolean;
  /** HYPERVISOR_physdev_op(cmd, arg). */
  physdevOp?(call: HypercallCall, guest: GuestArgs): number;
  /** Raise `virq` on `vcpu` (VIRQ_TIMER from the singleshot/periodic timers). */
  raiseVirq?(vcpu: number, virq: number): void;
  /** SCHEDOP_poll: 1 pending, 0 not pending, -errno for an invalid port. */
  pollPort?(port: number): number;
}

export const VIRQ_TIMER = 0;

/** The core's Upcall for either thread. */
export function xenUpcall(state: XenState, injector: UpcallInjector): Upcall {
  return {
    raise: (vcpu) => injector.inject(vcpu),
    eventPending: () => state.wakePollers(),
  };
}

/** Host thread: the control path of EventChannels. */
export function hostEvtchn(ec: EventChannels): EvtchnBackend {
  return {
    eventChannelOp: (call, guest) => ec.hypercall(argNum(call.args[0]), call.args[1]!, guest),
    raiseVirq: (vcpu, virq) => void ec.delivery.raiseVirq(virq, vcpu),
  };
}

/** vCPU thread: the fast path, from a delivery attached to the host's buffers. */
export function vcpuEvtchn(d: EvtchnDelivery): EvtchnBackend {
  return {
    eventChannelFast: (call) => !isControlPathOp(argNum(call.args[0])),
    // Only fast commands get here (the rest is forwarded); -EINVAL is a defensive answer.
    eventChannelOp: (call, guest) => d.fastOp(argNum(call.args[0]), call.args[1]!, guest) ?? -EINVAL,
    // Xen do_poll: port >= max_evtchns is -EINVAL; pending is read through the active ABI.
    pollPort: (port) => (port >= d.ports.limit ? -EINVAL : port > 0 && d.isPending(port) ? 1 : 0),
  };
}
