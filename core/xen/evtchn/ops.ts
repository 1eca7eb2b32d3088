// CONTROL PATH of the event channels: the EVTCHNOP semantics that change the port table's
// structure (alloc_unbound, bind_*, close, bind_vcpu, reset, init_control, expand_array,
// set_priority) plus status. Host thread only: it is the single writer of the port table
// (port-table.ts publish rule: fields first, state word last, under the row seqlock) and
// of the FIFO registration. It raises events through the fast path (delivery.ts), which
// it shares with the vCPU threads.
//
// Typed in, typed out: every method takes decoded arguments and returns a port / 0 or a
// negative Xen errno (xen-hvm-interfaces.md §5, Xen's check order); struct decoding and
// copy-out live in dispatch.ts. Nothing here throws on guest input.
import { EACCES, EEXIST, EINVAL, ENOENT, ENOSPC, ENOSYS, EPERM, ESRCH } from '../errno.js';
import type { EvtchnDelivery } from './delivery.js';
import { EVTCHN_FIFO_PRIORITY_MIN, EVENT_WORDS_PER_PAGE } from './fifo.js';
import { ABI_2L, ABI_FIFO, NR_2L_PORTS_32, NR_2L_PORTS_64, NR_VIRQS, PortState, PRIORITY_DEFAULT, type PortRow } from './port-table.js';
import type { PirqBinder } from './types.js';
import { virqIsPerVcpu, virqSlot } from './virq.js';

/** DOMID_SELF (public/xen.h). */
export const DOMID_SELF = 0x7ff0;

export interface StatusResult {
  status: number;
  vcpu: number;
  /** union @16: unbound.dom / interdomain.dom / pirq / virq. */
  u0: number;
  /** union @20: interdomain.port. */
  u1: number;
}

export class EvtchnOps {
  constructor(
    private readonly d: EvtchnDelivery,
    readonly nrVcpus: number,
    private readonly pirq?: PirqBinder,
  ) {}

  private get ports() {
    return this.d.ports;
  }
  private get own(): number {
    return this.ports.ownDomid;
  }
  private isSelf(dom: number): boolean {
    return dom === DOMID_SELF || dom === this.own;
  }
  private vcpuOk(vcpu: number): boolean {
    return Number.isInteger(vcpu) && vcpu >= 0 && vcpu < this.nrVcpus;
  }

  /** Lowest free port ≥ 1 that is not still LINKED in a FIFO queue ("busy"); -ENOSPC. */
  private allocPort(): number {
    const fifo = this.d.fifoActive ? this.d.fifo : undefined;
    const p = this.ports.findFree(fifo ? (q) => !fifo.isBusy(q) : undefined);
    return p < 0 ? -ENOSPC : p;
  }

  private bindNew(port: number, row: Omit<PortRow, 'priority'>): void {
    this.ports.clearCounters(port);
    this.ports.setShadow(port, 0);
    this.ports.publish(port, { ...row, priority: PRIORITY_DEFAULT });
  }

  /** EVTCHNOP_alloc_unbound: remote must be this domain (DOMID_SELF or own id): loopback. */
  allocUnbound(dom: number, remoteDom: number): number {
    if (!this.isSelf(dom)) return -ESRCH;
    // Only this domain exists; QEMU rejects other remote domains with -EPERM.
    if (!this.isSelf(remoteDom)) return -EPERM;
    const port = this.allocPort();
    if (port < 0) return port;
    this.bindNew(port, { state: PortState.UNBOUND, vcpu: 0, arg: 0, dom: this.own });
    return port;
  }

  /** EVTCHNOP_bind_interdomain (loopback): the new local port is set pending on success. */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    if (!this.isSelf(remoteDom)) return -ESRCH;
    const lport = this.allocPort();
    if (lport < 0) return lport;
    if (!this.ports.valid(remotePort) || remotePort === lport) return -EINVAL;
    const r = this.ports.read(remotePort);
    if (r.state !== PortState.UNBOUND || r.dom !== this.own) return -EINVAL;
    this.bindNew(lport, { state: PortState.INTERDOMAIN, vcpu: 0, arg: remotePort, dom: this.own });
    this.ports.update(remotePort, { state: PortState.INTERDOMAIN, arg: lport, dom: this.own });
    this.d.raisePort(lport, PortState.INTERDOMAIN);
    return lport;
  }

  /** EVTCHNOP_bind_virq. */
  bindVirq(virq: number, vcpu: number): number {
    if (!(virq >= 0 && virq < NR_VIRQS)) return -EINVAL;
    if (!virqIsPerVcpu(virq) && vcpu !== 0) return -EINVAL;
    if (!this.vcpuOk(vcpu)) return -ENOENT;
    const slot = virqSlot(virq, vcpu);
    if (this.ports.virqPort(slot, virq) !== 0) return -EEXIST;
    const port = this.allocPort();
    if (port < 0) return port;
    this.bindNew(port, { state: PortState.VIRQ, vcpu, arg: virq, dom: 0 });
    this.ports.setVirqPort(slot, virq, port);
    return port;
  }

  /** EVTCHNOP_bind_ipi. */
  bindIpi(vcpu: number): number {
    if (!this.vcpuOk(vcpu)) return -ENOENT;
    const port = this.allocPort();
    if (port < 0) return port;
    this.bindNew(port, { state: PortState.IPI, vcpu, arg: 0, dom: 0 });
    return port;
  }

  /** EVTCHNOP_bind_pirq: bound to vCPU0; the PIRQ layer may refuse with its errno. */
  bindPirq(pirq: number, flags: number): number {
    if (!(pirq >= 0 && pirq < this.ports.nrPirqs)) return -EINVAL;
    if (this.ports.pirqPort(pirq) !== 0) return -EEXIST;
    const port = this.allocPort();
    if (port < 0) return port;
    this.bindNew(port, { state: PortState.PIRQ, vcpu: 0, arg: pirq, dom: flags });
    this.ports.setPirqPort(pirq, port);
    let rc = 0;
    try {
      rc = this.pirq ? this.pirq.bind(pirq, port, flags) : 0;
    } catch {
      rc = -EINVAL;
    }
    if (rc < 0) {
      this.ports.setPirqPort(pirq, 0);
      this.ports.free(port);
      return rc;
    }
    return port;
  }

  /** EVTCHNOP_close: interdomain peer → UNBOUND; clears pending; notify vCPU → 0. */
  close(port: number): number {
    if (!this.ports.valid(port)) return -EINVAL;
    const row = this.ports.read(port);
    switch (row.state) {
      case PortState.FREE:
      case PortState.RESERVED:
        return -EINVAL;
      case PortState.INTERDOMAIN: {
        const peer = this.ports.read(row.arg);
        if (row.arg !== port && peer.state === PortState.INTERDOMAIN && peer.arg === port) {
          this.ports.update(row.arg, { state: PortState.UNBOUND, arg: 0, dom: this.own });
        }
        break;
      }
      case PortState.VIRQ: {
        const slot = virqSlot(row.arg, row.vcpu);
        if (this.ports.virqPort(slot, row.arg) === port) this.ports.setVirqPort(slot, row.arg, 0);
        break;
      }
      case PortState.PIRQ:
        if (this.ports.pirqPort(row.arg) === port) this.ports.setPirqPort(row.arg, 0);
        try {
          this.pirq?.unbind?.(row.arg, port);
        } catch {
          /* the PIRQ layer's problem; the port is closed regardless */
        }
        break;
    }
    this.ports.free(port);
    this.d.clearPending(port);
    return 0;
  }

  /** EVTCHNOP_status. */
  status(dom: number, port: number): StatusResult | number {
    if (!this.isSelf(dom)) return -ESRCH;
    if (!this.ports.valid(port)) return -EINVAL;
    const row = this.ports.read(port);
    const status = row.state === PortState.RESERVED ? PortState.FREE : row.state;
    const r: StatusResult = { status, vcpu: row.vcpu, u0: 0, u1: 0 };
    switch (row.state) {
      case PortState.UNBOUND:
        r.u0 = row.dom;
        break;
      case PortState.INTERDOMAIN:
        r.u0 = row.dom;
        r.u1 = row.arg;
        break;
      case PortState.PIRQ:
      case PortState.VIRQ:
        r.u0 = row.arg;
        break;
    }
    return r;
  }

  /** EVTCHNOP_bind_vcpu; a pending event is re-raised on the new vCPU. */
  bindVcpu(port: number, vcpu: number): number {
    if (!this.vcpuOk(vcpu)) return -ENOENT;
    if (!this.ports.valid(port)) return -EINVAL;
    const row = this.ports.read(port);
    switch (row.state) {
      case PortState.VIRQ:
        if (virqIsPerVcpu(row.arg)) return -EINVAL;
        break;
      case PortState.UNBOUND:
      case PortState.INTERDOMAIN:
      case PortState.PIRQ:
        break;
      default:
        return -EINVAL; // IPI, free, reserved
    }
    if (row.vcpu !== vcpu) {
      this.ports.update(port, { vcpu });
      this.d.reraise(port);
    }
    return 0;
  }

  /** EVTCHNOP_reset: close every port; FIFO → 2-level. */
  reset(dom: number): number {
    if (!this.isSelf(dom)) return -ESRCH;
    this.resetAll();
    return 0;
  }

  /** Close everything and return to the 2-level ABI (also used on VM reset). */
  resetAll(): void {
    for (let p = 1; p < this.ports.capacity; p++) {
      if (this.ports.state(p) !== PortState.FREE) this.close(p);
    }
    this.d.fifo.reset();
    this.ports.setAbi(ABI_2L, this.twoLevelLimit());
  }

  twoLevelLimit(): number {
    return this.d.sh.longMode ? NR_2L_PORTS_64 : NR_2L_PORTS_32;
  }

  /** EVTCHNOP_init_control; returns 0 or an errno (link_bits is written by dispatch.ts). */
  initControl(gfn: bigint, offset: number, vcpu: number): number {
    const fifo = this.d.fifo;
    const l2Pending: number[] = [];
    const limit = this.ports.limit;
    if (!fifo.active) {
      // Snapshot 2L pending bits before the switch (§4: they would otherwise be lost).
      for (let p = 1; p < limit; p++) {
        if (this.ports.state(p) !== PortState.FREE && this.d.l2.isPending(p)) l2Pending.push(p);
      }
    }
    const { rc, first } = fifo.initControl(vcpu, gfn, offset);
    if (rc < 0 || !first) return rc;
    for (let p = 1; p < limit; p++) {
      if (this.ports.state(p) === PortState.FREE) continue;
      this.ports.update(p, { priority: PRIORITY_DEFAULT });
      this.ports.setLastq(p, (this.ports.read(p).vcpu << 4) | PRIORITY_DEFAULT);
    }
    for (const p of l2Pending) this.ports.setShadow(p, 1);
    this.ports.setAbi(ABI_FIFO, this.ports.capacity);
    return 0;
  }

  /** EVTCHNOP_expand_array; re-raises shadow-pending ports of the new page. */
  expandArray(gfn: bigint): number {
    const fifo = this.d.fifo;
    const first = fifo.nrBacked;
    const rc = fifo.expandArray(gfn);
    if (rc < 0) return rc;
    const end = Math.min(first + EVENT_WORDS_PER_PAGE, this.ports.capacity);
    for (let p = Math.max(first, 1); p < end; p++) {
      if (!this.ports.shadow(p)) continue;
      this.ports.setShadow(p, 0);
      this.d.replayShadow(p);
    }
    return 0;
  }

  /** EVTCHNOP_set_priority (FIFO only); takes effect for future links. */
  setPriority(port: number, priority: number): number {
    if (!this.ports.valid(port)) return -EINVAL;
    if (!this.d.fifoActive) return -ENOSYS;
    const state = this.ports.state(port);
    if (state === PortState.FREE || state === PortState.RESERVED) return -EACCES;
    if (!(priority >= 0 && priority <= EVTCHN_FIFO_PRIORITY_MIN)) return -EINVAL;
    this.ports.update(port, { priority });
    return 0;
  }
}
