// What the VMM (not the guest) can do to a Xen HVM domain's event channels and PIRQs from
// the UI or the control socket, and the read-only port and PIRQ tables those views show.
// Host thread only (the control path of the event-channel core runs there; the fast-path
// calls used here are safe on any thread).
//
// Semantics, kept to the event-channel core's own operations:
//  - send: IPI and interdomain ports exactly as EVTCHNOP_send (an interdomain send raises
//    the loopback peer); VIRQ and PIRQ ports are raised on the port itself, as Xen raises
//    a VIRQ or a PIRQ (EVTCHNOP_send would refuse them). Mask and pending rules apply and
//    the per-port counters count it (sends, deliveries, coalesced, masked-pending).
//  - bindVcpu: EVTCHNOP_bind_vcpu (IPI ports and per-vCPU VIRQs cannot move; a pending,
//    unmasked event follows the port to its new vCPU).
//  - mask: set the port's mask bit in guest memory — 2-level: shared_info evtchn_mask, FIFO:
//    MASKED in the event word — with an atomic OR, as a guest's own mask does.
//  - unmask: EVTCHNOP_unmask (re-delivers a pending event).
// Failures throw XenHostActionError naming the port and, where one applies, Xen's errno.
import type { XenPirqView, XenPortView, XenPortsView } from '../api/contract.js';
import { VmmError } from '../errors.js';
import { EINVAL, ENOENT, errnoName } from './errno.js';
import type { EventChannels } from './evtchn/evtchn.js';
import { EVTCHN_FIFO_MASKED } from './evtchn/fifo.js';
import { describeOutcome } from './evtchn/outcome.js';
import { ABI_FIFO, PortState, type PortRow } from './evtchn/port-table.js';
import type { PirqLayer } from './pirq/pirq.js';

export class XenHostActionError extends VmmError {
  constructor(
    message: string,
    readonly errno?: string,
  ) {
    super(errno ? `${message} (${errno})` : message);
  }
}

const VIRQ_NAMES: Record<number, string> = { 0: 'VIRQ_TIMER', 1: 'VIRQ_DEBUG', 2: 'VIRQ_CONSOLE', 3: 'VIRQ_DOM_EXC' };

export interface XenSendResult {
  port: number;
  /** The port made pending (the peer, for an interdomain port). */
  raised: number;
  /** "new", "coalesced", "new+masked", "new+upcall", "dropped" ... */
  outcome: string;
}

export interface HostActionCounters {
  sends: number;
  bindVcpu: number;
  masks: number;
  unmasks: number;
  errors: number;
}

const counters = new WeakMap<EventChannels, HostActionCounters>();

export class XenHostActions {
  readonly counters: HostActionCounters;

  constructor(
    private readonly ec: EventChannels,
    private readonly pirq: PirqLayer,
  ) {
    let c = counters.get(ec);
    if (!c) counters.set(ec, (c = { sends: 0, bindVcpu: 0, masks: 0, unmasks: 0, errors: 0 }));
    this.counters = c;
  }

  get abi(): XenPortsView['abi'] {
    if (this.ec.ports.abi === ABI_FIFO) return 'fifo';
    return this.ec.sharedInfo.sharedInfoGpa < 0 ? 'none' : '2l';
  }

  ports(): XenPortsView {
    const d = this.ec.delivery;
    const ports = this.ec.snapshot().ports.map((s): XenPortView => {
      const row = this.ec.ports.read(s.port);
      return { ...s, pending: d.isPending(s.port), masked: d.isMasked(s.port), detail: detailOf(row) };
    });
    return { abi: this.abi, vcpus: this.ec.nrVcpus, ports };
  }

  pirqs(): XenPirqView[] {
    return this.pirq.snapshot().pirqs.map((r) => {
      const v: XenPirqView = { pirq: r.pirq, source: r.source, port: r.port > 0 ? r.port : null, count: r.count, dropped: r.dropped };
      if (r.masked !== undefined) v.masked = r.masked;
      return v;
    });
  }

  send(port: number): XenSendResult {
    const row = this.bound(port);
    const d = this.ec.delivery;
    let raised = port;
    let o: number;
    switch (row.state) {
      case PortState.IPI:
      case PortState.INTERDOMAIN:
        if (row.state === PortState.INTERDOMAIN) raised = row.arg;
        o = d.sendOutcome(port);
        if (o < 0) this.fail(`EVTCHNOP_send on port ${port} failed`, o);
        break;
      case PortState.VIRQ:
      case PortState.PIRQ:
        o = d.setPending(port, row.vcpu, row.priority);
        break;
      default:
        return this.fail(`port ${port} is unbound: a send has nowhere to go; bind it (or its peer) first`);
    }
    this.counters.sends++;
    return { port, raised, outcome: describeOutcome(o) };
  }

  bindVcpu(port: number, vcpu: number): void {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.ec.nrVcpus) {
      this.fail(`vCPU ${vcpu} is out of range (the domain has vCPUs 0..${this.ec.nrVcpus - 1})`, -ENOENT);
    }
    const row = this.bound(port);
    const rc = this.ec.ops.bindVcpu(port, vcpu);
    if (rc < 0) {
      const why = row.state === PortState.IPI ? ': IPI ports stay on their vCPU' : row.state === PortState.VIRQ ? ': per-vCPU VIRQs stay on their vCPU' : '';
      this.fail(`EVTCHNOP_bind_vcpu(port ${port}, vCPU ${vcpu}) failed${why}`, rc);
    }
    this.counters.bindVcpu++;
  }

  setMask(port: number, masked: boolean): void {
    this.bound(port);
    if (!masked) {
      const rc = this.ec.delivery.unmask(port);
      if (rc < 0) this.fail(`EVTCHNOP_unmask on port ${port} failed`, rc);
      this.counters.unmasks++;
      return;
    }
    if (this.abi === 'fifo') {
      const wi = this.ec.fifo.wordIndex(port);
      if (wi < 0) this.fail(`port ${port} has no FIFO event word yet (the guest has not expanded its event array that far)`, -EINVAL);
      Atomics.or(this.ec.sharedInfo.views.i32, wi, EVTCHN_FIFO_MASKED);
    } else if (this.abi === '2l') {
      this.ec.delivery.l2.mask(port);
    } else {
      this.fail(`port ${port} cannot be masked: the guest has not mapped shared_info yet`);
    }
    this.counters.masks++;
  }

  /** The port's row, when it is bound; throws otherwise. */
  private bound(port: number): PortRow {
    if (!Number.isInteger(port) || !this.ec.ports.valid(port) || port === 0) {
      this.fail(`port ${port} is out of range (valid ports are 1..${this.ec.ports.limit - 1})`, -EINVAL);
    }
    const row = this.ec.ports.read(port);
    if (row.state === PortState.FREE || row.state === PortState.RESERVED) this.fail(`port ${port} is not bound`, -EINVAL);
    return row;
  }

  private fail(message: string, rc?: number): never {
    this.counters.errors++;
    throw new XenHostActionError(message, rc === undefined ? undefined : errnoName(rc));
  }
}

function detailOf(row: PortRow): string {
  switch (row.state) {
    case PortState.VIRQ:
      return VIRQ_NAMES[row.arg] ?? `virq ${row.arg}`;
    case PortState.PIRQ:
      return `pirq ${row.arg}`;
    case PortState.INTERDOMAIN:
      return `remote port ${row.arg}`;
    case PortState.UNBOUND:
      return `remote dom ${row.dom}`;
    default:
      return '';
  }
}
