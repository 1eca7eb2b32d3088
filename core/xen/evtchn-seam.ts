// The seam between the platform plumbing (this directory) and the event-channel core
// (core/xen/evtchn/). The core plugs in by implementing EvtchnBackend:
//   - on the host thread, XenPlatform.setEvtchnBackend(backend) (slow-path EVTCHNOP_*,
//     PHYSDEVOP_*, VIRQ_TIMER from the vCPU timers);
//   - on each vCPU thread, a module named in XenWorkerInit.evtchnModule exporting
//     `createVcpuEvtchn(ctx: VcpuEvtchnContext): EvtchnBackend` (fast-path sends, unmask,
//     SCHEDOP_poll port checks), built from the same shared buffers.
// Until a backend is installed, event_channel_op and physdev_op answer -ENOSYS (what a Xen
// without the operation says), timers raise nothing, and SCHEDOP_poll checks ports against
// the 2-level bitmaps in shared_info itself.
import { EINVAL, ENOSYS } from './errno.js';
import type { HypercallCall } from './abi.js';
import type { GuestArgs } from './guest-access.js';
import type { XenState } from './xen-state.js';
import type { UpcallInjector } from './upcall.js';

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

/** What a vCPU-thread backend is built from. */
export interface VcpuEvtchnContext {
  vcpuId: number;
  state: XenState;
  upcall: UpcallInjector;
  /** Extra shared buffers the host-side backend handed out (XenWorkerInit.evtchnShared). */
  shared: unknown;
}

export const VIRQ_TIMER = 0;

/** Pending bit of 2-level port `port` in shared_info (fallback for SCHEDOP_poll). */
export function pollPort2l(state: XenState, port: number): number {
  const long = state.longMode();
  const max = long ? 4096 : 1024; // EVTCHN_2L_NR_CHANNELS
  if (port >= max) return -EINVAL; // Xen: port >= max_evtchns
  if (port === 0) return 0; // reserved, never pending
  const sh = state.sharedInfoGpa();
  if (sh < 0) return 0;
  const off = state.mem.offsetOf(sh + 0x800 + (port >>> 3), 1); // evtchn_pending[] at 0x800
  return off >= 0 && (Atomics.load(state.mem.bytes, off) >> (port & 7)) & 1 ? 1 : 0;
}

export const noEvtchn: EvtchnBackend = {
  eventChannelOp: () => -ENOSYS,
};
