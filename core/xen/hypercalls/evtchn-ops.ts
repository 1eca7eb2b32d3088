// HYPERVISOR_event_channel_op and HYPERVISOR_physdev_op: handed to the event-channel
// backend (../evtchn-seam.ts). The backend decides, per sub-command, what runs on the
// vCPU thread (its `eventChannelFast`); without a backend both answer -ENOSYS.
import { ENOSYS } from '../errno.js';
import { HYPERVISOR_event_channel_op, HYPERVISOR_physdev_op } from '../abi.js';
import type { HypercallHandler } from '../dispatcher.js';
import type { EvtchnBackend } from '../evtchn-seam.js';

export function eventChannelOpHandler(backend: () => EvtchnBackend): HypercallHandler {
  return {
    nr: HYPERVISOR_event_channel_op,
    fast: (call) => backend().eventChannelFast?.(call) === true,
    handle: (call, guest) => backend().eventChannelOp(call, guest),
  };
}

export function physdevOpHandler(backend: () => EvtchnBackend): HypercallHandler {
  return {
    nr: HYPERVISOR_physdev_op,
    handle: (call, guest) => backend().physdevOp?.(call, guest) ?? -ENOSYS,
  };
}
