// The PIRQ layer's view of the event-channel core: raise a PIRQ's bound port, and look up
// which port that is. Implemented by core/xen/evtchn (EvtchnDelivery.raisePirq and
// PortTable.pirqPort); `eventsOf(ec)` adapts an EventChannels instance. Raising goes
// through `raiseCounted`, which also keeps the per-PIRQ counters.
//
// Locking: raisePirq is the event-channel FAST PATH. It takes no lock except a FIFO queue
// lock, which it releases before it injects the upcall and before it returns; it never
// calls back into the PIRQ layer. So the PIRQ layer may call it from anywhere on the host
// thread (GSI hook, PHYSDEVOP_eoi, bind_pirq, MSI delivery).
import { EV_DROPPED } from '../evtchn/outcome.js';
import type { PirqTable } from './pirq-table.js';

export interface PirqEvents {
  /** Make the port bound to `pirq` pending; an evtchn Outcome (EV_DROPPED: no port). */
  raisePirq(pirq: number): number;
  /** The port bound to `pirq`, 0 for none. */
  pirqPort(pirq: number): number;
}

/** The parts of core/xen/evtchn EventChannels the PIRQ layer uses. */
export interface EventChannelsLike {
  delivery: { raisePirq(pirq: number): number };
  ports: { pirqPort(pirq: number): number };
}

export function eventsOf(ec: EventChannelsLike): PirqEvents {
  return { raisePirq: (p) => ec.delivery.raisePirq(p), pirqPort: (p) => ec.ports.pirqPort(p) };
}

/** Until the event channels are attached every raise is dropped. */
export const noEvents: PirqEvents = { raisePirq: () => EV_DROPPED, pirqPort: () => 0 };

/** Raise `pirq` and count it on the table; true when a port took the event. */
export function raiseCounted(table: PirqTable, events: PirqEvents, pirq: number): boolean {
  let outcome: number;
  try {
    outcome = events.raisePirq(pirq);
  } catch {
    outcome = EV_DROPPED;
  }
  const dropped = (outcome & EV_DROPPED) !== 0;
  table.counted(pirq, dropped);
  return !dropped;
}
