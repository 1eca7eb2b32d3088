// What the slow-path (host-thread) hypercall handlers act on: one Xen domain's state and
// the machine hooks it needs. Implemented by XenPlatform (../xen-platform.ts); tests build
// their own.
import type { XenState } from '../xen-state.js';
import type { UpcallInjector } from '../upcall.js';
import type { XenTimers } from '../timers.js';
import type { EventChannels } from '../evtchn/evtchn.js';

export type ShutdownKind = 'poweroff' | 'reboot' | 'crash';

export interface XenDomain {
  readonly state: XenState;
  readonly upcall: UpcallInjector;
  readonly timers: XenTimers;
  /** The event-channel core (control path: shared_info, vcpu_info, EVTCHNOPs). */
  readonly events: EventChannels;
  /** HVM params set by the guest (HVMOP_set_param), by index. */
  readonly params: Map<number, bigint>;
  /** Number of GSIs a callback may use (IOAPIC pins). */
  readonly gsiCount: number;
  /** GSI of bus-0 PCI device `device`, INTx pin `pin` (0 = INTA), or undefined. */
  intxGsi(device: number, pin: number): number | undefined;
  /** The callback configuration changed: re-drive the GSI line. */
  callbackChanged(): void;
  /** CONSOLEIO_write bytes from `vcpu`. */
  console(vcpu: number, bytes: Uint8Array): void;
  /** SCHEDOP_shutdown: end the VM. */
  shutdown(kind: ShutdownKind, detail: string): void;
  /** vCPU `vcpu` is up (VCPUOP_is_up). */
  isUp(vcpu: number): boolean;
}
