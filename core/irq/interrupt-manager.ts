// The interrupt fabric's interface, independent of KVM (in the spirit of Cloud Hypervisor's
// InterruptManager / InterruptSourceGroup). Implementations: kvm-interrupt-manager.ts
// (KVM irqfd, GSI routes, KVM_SIGNAL_MSI); a Xen one can sit beside it.
//
// Flow:
// 1. The machine creates one InterruptManager per VM (over the VM and its GSI router).
// 2. A device (in-process model or a device process) gets an interrupt source group: an
//    MSI/MSI-X group of N vectors, or an INTx group for its one pin. Every source carries
//    provenance { device, function, vector | pin } that shows up in statistics.
// 3. The guest programs the device: the MSI-X core calls update(i, msg, masked) on every
//    table or mask change and enable()/disable() when MSI-X is switched on or off.
// 4. The device raises an interrupt with trigger(i), or a device process writes the eventfd
//    from notifierFd(i) directly (that is the fast path: KVM injects without the VMM).
// 5. While a vector is masked the group keeps the signal as a pending bit and reports it to
//    the device model's PBA through `onPending`; on unmask the group delivers it once and
//    clears the bit. The MSI-X core must therefore not re-send pending vectors itself.
// 6. stats() returns one row per source: counters and the current delivery path.
import type { MsiMessage } from './types.js';

/** Where an interrupt comes from. */
export interface InterruptSourceId {
  device: string;
  function?: number;
  vector?: number;
  pin?: number;
}

/**
 * How a source currently reaches the guest:
 * - irqfd: eventfd bound to a GSI route in KVM; the VMM is not involved.
 * - userspace: masked (or group disabled); the VMM reads the eventfd and sets the pending bit.
 * - fallback: unmasked but no GSI route free; the VMM reads the eventfd and injects the
 *   message with KVM_SIGNAL_MSI.
 * - level: an INTx line (irqfd+resamplefd, or the userspace IOAPIC).
 */
export type InterruptPath = 'irqfd' | 'userspace' | 'fallback' | 'level';

export interface InterruptSourceStats {
  source: InterruptSourceId;
  path: InterruptPath;
  /** KVM GSI carrying the source, or null. */
  gsi: number | null;
  masked: boolean;
  pending: boolean;
  /** Signals seen by the VMM (trigger() calls and eventfd counts read in userspace). */
  total: number;
  /** Signals folded into another: eventfd counts > 1, or a trigger while already pending. */
  coalesced: number;
  firedWhileMasked: number;
  deliveredAfterUnmask: number;
  /** Userspace injections (KVM_SIGNAL_MSI, or INTx assertions into the IOAPIC or irqfd). */
  injected: number;
  /** INTx only: resample (EOI) notifications, and those that found the line still high. */
  resamples?: number;
  reasserts?: number;
}

/** Device-model hook for the MSI-X PBA: the group sets and clears pending bits through it. */
export type PendingSink = (index: number, pending: boolean) => void;

export interface InterruptSourceGroup {
  readonly kind: 'msi' | 'intx';
  /** Number of sources (vectors, or 1 for INTx). */
  readonly length: number;
  enable(): void;
  disable(): void;
  /** Raise source `index` from the VMM side. */
  trigger(index: number): void;
  /** An eventfd a device process can write to raise source `index`. */
  notifierFd(index: number): number;
  stats(): InterruptSourceStats[];
  /** Release routes, irqfds and eventfds. */
  destroy(): void;
}

export interface MsiInterruptGroup extends InterruptSourceGroup {
  readonly kind: 'msi';
  /** New message and effective mask (per-vector mask || function mask) of vector `index`. */
  update(index: number, msg: MsiMessage, masked: boolean): void;
  /** Test-and-clear signals a masked vector got but not yet reported (PBA read). */
  pollPending(index: number): boolean;
}

export interface IntxInterruptGroup extends InterruptSourceGroup {
  readonly kind: 'intx';
  /** Drive the device's line (level-triggered). trigger(0) is setLevel(true). */
  setLevel(level: boolean): void;
  /**
   * An eventfd written on every resample (EOI of the line) for a device process that drives
   * the line through notifierFd(0); it must re-signal if it still asserts the line. Once
   * handed out, the VMM stops re-checking the line itself.
   */
  resampleFd(): number;
}

export interface MsiGroupConfig {
  device: string;
  function?: number;
  vectors: number;
  onPending?: PendingSink;
}

export interface IntxGroupConfig {
  device: string;
  function?: number;
  /** Interrupt controller input: IOAPIC pin = GSI (0..23). */
  gsi: number;
  /** PCI interrupt pin of the function (1 = INTA# .. 4 = INTD#), for provenance. */
  pin?: number;
}

export interface InterruptManager {
  createMsiGroup(config: MsiGroupConfig): MsiInterruptGroup;
  createIntxGroup(config: IntxGroupConfig): IntxInterruptGroup;
  /** Run fn with route updates collected and committed to the hypervisor once. */
  batch<T>(fn: () => T): T;
  stats(): InterruptSourceStats[];
}
