// What one set_pending did, as bit flags shared by the 2-level and FIFO ABIs. delivery.ts
// turns them into per-port statistics and injects the upcall when EV_UPCALL is set (the
// vCPU's evtchn_upcall_pending went 0→1). No state, no threading concerns.

/** The pending bit went 0→1: a new event (otherwise it coalesced with a pending one). */
export const EV_NEW = 1;
/** The port is masked: the event stays pending until unmask. */
export const EV_MASKED = 2;
/** evtchn_upcall_pending went 0→1: the caller must inject the upcall. */
export const EV_UPCALL = 4;
/** Nowhere to deliver (no shared_info / vcpu_info / control block, or a FIFO retry limit). */
export const EV_DROPPED = 8;
/** FIFO port beyond the event array: remembered in the shadow until expand_array. */
export const EV_SHADOW = 16;

export type Outcome = number;

export function isCoalesced(o: Outcome): boolean {
  return (o & (EV_NEW | EV_DROPPED)) === 0;
}

export function describeOutcome(o: Outcome): string {
  if (o & EV_DROPPED) return 'dropped';
  const parts = [o & EV_NEW ? 'new' : 'coalesced'];
  if (o & EV_MASKED) parts.push('masked');
  if (o & EV_SHADOW) parts.push('shadow');
  if (o & EV_UPCALL) parts.push('upcall');
  return parts.join('+');
}
