// Interfaces the event-channel core needs from the rest of the VMM, and the bundle of
// SharedArrayBuffers a vCPU worker thread needs to run the fast path. Implementations live
// elsewhere (guest-access.ts translates guest virtual addresses, upcall.ts injects the
// upcall, pirq.ts binds PIRQs); the core only depends on these shapes.

/** Guest-virtual struct access for hypercall arguments (page-table translation elsewhere). */
export interface GuestArgs {
  /** The bytes at [gva, gva+len), or a negative errno (normally -EFAULT). */
  read(gva: bigint | number, len: number): Uint8Array | number;
  /** 0, or a negative errno (normally -EFAULT). */
  write(gva: bigint | number, bytes: Uint8Array): number;
}

/**
 * Upcall injection. Called when a vCPU's evtchn_upcall_pending goes 0→1, from whichever
 * thread raised the event (vCPU worker or host thread), never while a queue lock is held.
 */
export interface Upcall {
  raise(vcpu: number): void;
  /**
   * Optional: `port` became pending for `vcpu` (masked or not). The platform wakes vCPUs
   * blocked in SCHEDOP_poll (Xen evtchn_check_pollers). Same threading rules as raise.
   */
  eventPending?(vcpu: number, port: number): void;
}

/** The PIRQ layer's side of EVTCHNOP_bind_pirq / close. */
export interface PirqBinder {
  /** Bind `pirq` to `port` (flags bit0 BIND_PIRQ__WILL_SHARE); 0 or a negative errno. */
  bind(pirq: number, port: number, flags: number): number;
  /** The port bound to `pirq` was closed (or reset). */
  unbind?(pirq: number, port: number): void;
}

/** Everything a worker thread needs to attach the fast path (structured-cloneable). */
export interface EvtchnBuffers {
  nrVcpus: number;
  ports: SharedArrayBuffer;
  sharedInfo: SharedArrayBuffer;
  fifo: SharedArrayBuffer;
  counters: SharedArrayBuffer;
}
