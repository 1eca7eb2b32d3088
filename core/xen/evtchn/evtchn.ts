// The event-channel core for one Xen HVM VM: builds the shared structures (port table,
// shared_info/vcpu_info locations, FIFO state, counters), exposes the control path
// (hypercall(): every EVTCHNOP, host thread) and the fast path (`delivery`, or
// EvtchnDelivery.attach(buffers()) on a vCPU worker), statistics (snapshot()) and
// save/restore (state()/restore()).
//
// Which path is which:
//  - FAST PATH, any thread (delivery.ts): EVTCHNOP_send (IPI, loopback interdomain, VIRQ →
//    -EINVAL, unbound → 0), EVTCHNOP_unmask, raiseVirq, raisePirq. Reads rows, writes
//    only guest memory, FIFO queue words/locks and counters.
//  - CONTROL PATH, host thread only (ops.ts, dispatch.ts, this file's setters): every
//    other EVTCHNOP, setSharedInfo, registerVcpuInfo, reset, restore.
// Locking: see port-table.ts (seqlock rows, state word last), fifo.ts (queue locks in
// index order, upcall injected after unlocking) and queue-lock.ts. The only lock in the
// core is the FIFO queue lock, never held across a call out of the core, so the PIRQ
// layer's GSI hook (which calls raisePirq) cannot deadlock against it.
//
// Save/restore: state() is primary data only (ports, registrations, FIFO shadows);
// restore() recomputes everything derived: VIRQ/PIRQ maps from the rows, FIFO private
// tails and LASTQ by walking the guest's queues. Pending/mask bits live in guest RAM.
import type { GuestMemory } from '../../memory/guest-memory.js';
import { VmmError } from '../../errors.js';
import { EvtchnCounters, type CountersSnapshot } from './counters.js';
import { EvtchnDelivery } from './delivery.js';
import { EvtchnDispatcher } from './dispatch.js';
import { Fifo, type FifoRegistration } from './fifo.js';
import { EvtchnOps } from './ops.js';
import { ABI_FIFO, F, PORT_STATE_NAMES, PortState, PortTable, type PortRow } from './port-table.js';
import { SharedInfo } from './shared-info.js';
import type { EvtchnBuffers, GuestArgs, PirqBinder, Upcall } from './types.js';
import { virqSlot } from './virq.js';

export interface EventChannelsOptions {
  mem: GuestMemory;
  nrVcpus: number;
  upcall: Upcall;
  /** This guest's domid (DOMID_SELF aliases it); default 0. */
  ownDomid?: number;
  /** nr_pirqs for bind_pirq range checks; default 256. */
  nrPirqs?: number;
  pirq?: PirqBinder;
  /** Port-table capacity; default the FIFO maximum (131072). */
  capacity?: number;
}

export interface PortStats {
  port: number;
  type: string;
  vcpu: number;
  priority: number;
  sends: number;
  deliveries: number;
  coalesced: number;
  maskedPending: number;
  upcalls: number;
}

export interface EvtchnSnapshot extends CountersSnapshot {
  abi: '2l' | 'fifo';
  ports: PortStats[];
  fifoLostEvents: number;
  fifoLinkFailures: number;
}

export interface SavedPort extends PortRow {
  port: number;
  /** FIFO pending shadow (a port beyond the event array that is pending). */
  shadow?: 1;
}

export interface EvtchnState {
  version: 1;
  abi: '2l' | 'fifo';
  sharedInfo: { gpa: number; longMode: boolean } | null;
  vcpuInfo: (number | null)[];
  fifo: FifoRegistration | null;
  ports: SavedPort[];
}

export class EventChannels {
  readonly ports: PortTable;
  readonly sharedInfo: SharedInfo;
  readonly fifo: Fifo;
  readonly counters: EvtchnCounters;
  /** Fast path (usable from this thread; workers attach their own). */
  readonly delivery: EvtchnDelivery;
  /** Control path. */
  readonly ops: EvtchnOps;
  private readonly dispatcher: EvtchnDispatcher;
  readonly nrVcpus: number;
  private readonly upcall: Upcall;

  constructor(o: EventChannelsOptions) {
    this.nrVcpus = o.nrVcpus;
    this.upcall = o.upcall;
    this.ports = PortTable.create({ nrVcpus: o.nrVcpus, nrPirqs: o.nrPirqs ?? 256, ownDomid: o.ownDomid ?? 0, capacity: o.capacity });
    this.sharedInfo = SharedInfo.create(o.mem, o.nrVcpus);
    this.fifo = Fifo.create(this.sharedInfo, this.ports, o.nrVcpus);
    this.counters = EvtchnCounters.create(o.nrVcpus);
    this.delivery = new EvtchnDelivery(this.ports, this.sharedInfo, this.fifo, this.counters, o.upcall);
    this.ops = new EvtchnOps(this.delivery, o.nrVcpus, o.pirq);
    this.dispatcher = new EvtchnDispatcher(this.delivery, this.ops);
  }

  /** Buffers for EvtchnDelivery.attach on a vCPU worker thread. */
  buffers(): EvtchnBuffers {
    return {
      nrVcpus: this.nrVcpus,
      ports: this.ports.buffer,
      sharedInfo: this.sharedInfo.buffer,
      fifo: this.fifo.buffer,
      counters: this.counters.buffer,
    };
  }

  /** Control path: HYPERCALL_event_channel_op(cmd, arg). Never throws. */
  hypercall(cmd: number, arg: bigint | number, args: GuestArgs): number {
    return this.dispatcher.op(cmd, arg, args);
  }

  /** Control path (XENMEM_add_to_physmap shared_info, or a mode latch). 0 or -EINVAL. */
  setSharedInfo(gpa: number, longMode: boolean): number {
    const rc = this.sharedInfo.setSharedInfo(gpa, longMode);
    if (rc === 0 && !this.fifo.active) this.ports.setAbi(this.ports.abi, this.ops.twoLevelLimit());
    return rc;
  }

  /** Control path (VCPUOP_register_vcpu_info): 0, -EINVAL or -EBUSY; raises the upcall Xen raises. */
  registerVcpuInfo(vcpu: number, gpa: number): number {
    const rc = this.sharedInfo.registerVcpuInfo(vcpu, gpa);
    if (rc === 0) {
      this.counters.upcall(vcpu);
      this.upcall.raise(vcpu);
    }
    return rc;
  }

  /** Statistics as plain numbers (bound ports only). */
  snapshot(): EvtchnSnapshot {
    const p = this.ports;
    const ports: PortStats[] = [];
    for (let port = 1; port < p.limit; port++) {
      const row = p.read(port);
      if (row.state === PortState.FREE) continue;
      ports.push({
        port,
        type: PORT_STATE_NAMES[row.state] ?? 'unknown',
        vcpu: row.vcpu,
        priority: row.priority,
        sends: p.counter(port, F.SENDS),
        deliveries: p.counter(port, F.DELIVERIES),
        coalesced: p.counter(port, F.COALESCED),
        maskedPending: p.counter(port, F.MASKED),
        upcalls: p.counter(port, F.UPCALLS),
      });
    }
    return {
      abi: p.abi === ABI_FIFO ? 'fifo' : '2l',
      ports,
      ...this.counters.snapshot(),
      fifoLostEvents: this.fifo.lostEvents,
      fifoLinkFailures: this.fifo.linkFailures,
    };
  }

  /** Primary state for save (no derived data). */
  state(): EvtchnState {
    const p = this.ports;
    const fifo = p.abi === ABI_FIFO;
    const ports: SavedPort[] = [];
    for (let port = 1; port < p.capacity; port++) {
      const row = p.read(port);
      if (row.state === PortState.FREE) continue;
      const s: SavedPort = { port, ...row };
      if (fifo && p.shadow(port)) s.shadow = 1;
      ports.push(s);
    }
    const sh = this.sharedInfo;
    const gpa = sh.sharedInfoGpa;
    return {
      version: 1,
      abi: fifo ? 'fifo' : '2l',
      sharedInfo: gpa < 0 ? null : { gpa, longMode: sh.longMode },
      vcpuInfo: Array.from({ length: this.nrVcpus }, (_, v) => (sh.vcpuInfoRegistered(v) ? sh.vcpuInfoGpa(v) : null)),
      fifo: fifo ? this.fifo.registration() : null,
      ports,
    };
  }

  /** Rebuild every runtime structure from saved state (host thread, vCPUs stopped). */
  restore(s: EvtchnState): void {
    if (s?.version !== 1 || !Array.isArray(s.ports) || !Array.isArray(s.vcpuInfo)) throw new VmmError('bad event-channel state');
    const p = this.ports;
    const sh = this.sharedInfo;
    p.resetAll();
    this.fifo.reset();
    sh.clearAll();
    if (s.sharedInfo && sh.setSharedInfo(s.sharedInfo.gpa, s.sharedInfo.longMode) < 0) {
      throw new VmmError(`saved shared_info 0x${s.sharedInfo.gpa.toString(16)} is not RAM`);
    }
    s.vcpuInfo.forEach((gpa, v) => {
      if (gpa !== null && v < this.nrVcpus) sh.restoreVcpuInfo(v, gpa);
    });
    const fifo = s.abi === 'fifo' && s.fifo !== null;
    p.setAbi(fifo ? ABI_FIFO : 0, fifo ? p.capacity : this.ops.twoLevelLimit());
    for (const sp of s.ports) {
      if (!(sp.port > 0 && sp.port < p.capacity) || !(sp.state > PortState.FREE && sp.state < PortState.RESERVED)) {
        throw new VmmError(`bad saved port ${sp.port}`);
      }
      p.publish(sp.port, { state: sp.state, vcpu: sp.vcpu, arg: sp.arg, dom: sp.dom, priority: sp.priority });
      p.setLastq(sp.port, (sp.vcpu << 4) | sp.priority);
      if (sp.shadow) p.setShadow(sp.port, 1);
      if (sp.state === PortState.VIRQ) p.setVirqPort(virqSlot(sp.arg, sp.vcpu), sp.arg, sp.port);
      if (sp.state === PortState.PIRQ) p.setPirqPort(sp.arg, sp.port);
    }
    if (fifo) this.fifo.restore(s.fifo!);
  }
}
