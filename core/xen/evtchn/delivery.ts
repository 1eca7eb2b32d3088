// FAST PATH of the event channels: everything here is safe on any thread (a vCPU worker
// answering its own EVTCHNOP_send / EVTCHNOP_unmask, a timer raising VIRQ_TIMER, the PIRQ
// layer raising a PIRQ, or the host thread). It only *reads* the port table's structure
// (seqlock snapshots, port-table.ts) and changes pending state in guest memory through the
// active ABI (two-level.ts or fifo.ts), then counts and injects the upcall when the
// vCPU's evtchn_upcall_pending went 0→1.
//
// Data flow: hypercall → fastOp(cmd) → send/unmask → setPending(port, vcpu, prio)
//   → TwoLevel.setPending | Fifo.setPending → Outcome → per-port counters → Upcall.raise.
//
// Rules: never write a row's structure (only runtime words: counters, FIFO LASTQ/SHADOW);
// never hold a FIFO queue lock while calling Upcall.raise (fifo.ts drops them first); a
// row whose state is not what the operation expects gets that state's errno, so a port
// being rebuilt by the host thread is never acted on half-built. A port closed on the
// host thread while a sender is between reading its row and setting the pending bit may be
// left pending (Xen avoids this with a per-channel lock): the guest sees one spurious event.
import type { GuestMemory } from '../../memory/guest-memory.js';
import { EFAULT, EINVAL } from '../errno.js';
import { EvtchnCounters } from './counters.js';
import { Fifo } from './fifo.js';
import { EV_DROPPED, EV_MASKED, EV_NEW, EV_SHADOW, EV_UPCALL, type Outcome } from './outcome.js';
import { ABI_FIFO, F, PortState, PortTable } from './port-table.js';
import { SharedInfo } from './shared-info.js';
import { TwoLevel } from './two-level.js';
import type { EvtchnBuffers, GuestArgs, Upcall } from './types.js';
import { NR_VIRQS, virqSlot } from './virq.js';

export const EVTCHNOP_SEND = 4;
export const EVTCHNOP_UNMASK = 9;

export class EvtchnDelivery {
  readonly l2: TwoLevel;

  constructor(
    readonly ports: PortTable,
    readonly sh: SharedInfo,
    readonly fifo: Fifo,
    readonly counters: EvtchnCounters,
    private readonly upcall: Upcall,
  ) {
    this.l2 = new TwoLevel(sh);
  }

  /** Open the fast path on a worker thread from the host's buffers. */
  static attach(b: EvtchnBuffers, mem: GuestMemory, upcall: Upcall): EvtchnDelivery {
    const ports = PortTable.attach(b.ports);
    const sh = SharedInfo.attach(b.sharedInfo, mem, b.nrVcpus);
    const fifo = Fifo.attach(b.fifo, sh, ports, b.nrVcpus);
    return new EvtchnDelivery(ports, sh, fifo, EvtchnCounters.attach(b.counters, b.nrVcpus), upcall);
  }

  get fifoActive(): boolean {
    return this.ports.abi === ABI_FIFO;
  }

  /** Make `port` pending for `vcpu` through the active ABI; counts it and injects the upcall. */
  setPending(port: number, vcpu: number, priority: number): Outcome {
    const o = this.fifoActive ? this.fifo.setPending(port, vcpu, priority) : this.l2.setPending(port, vcpu);
    const p = this.ports;
    p.count(port, F.SENDS);
    if (!(o & EV_DROPPED)) {
      if (!(o & EV_NEW)) p.count(port, F.COALESCED);
      else if (o & (EV_MASKED | EV_SHADOW)) p.count(port, F.MASKED);
      else p.count(port, F.DELIVERIES);
    }
    this.afterUpcall(port, vcpu, o);
    if ((o & (EV_NEW | EV_DROPPED)) === EV_NEW) this.upcall.eventPending?.(vcpu, port);
    return o;
  }

  private afterUpcall(port: number, vcpu: number, o: Outcome): void {
    if (!(o & EV_UPCALL)) return;
    this.ports.count(port, F.UPCALLS);
    this.counters.upcall(vcpu);
    this.upcall.raise(vcpu);
  }

  /** Raise a bound port on its notify vCPU (used for loopback peers, VIRQs, PIRQs). */
  raisePort(port: number, expect: number): Outcome {
    const row = this.ports.read(port);
    if (row.state !== expect) return EV_DROPPED;
    return this.setPending(port, row.vcpu, row.priority);
  }

  /** EVTCHNOP_send semantics (§5): 0 or -EINVAL. */
  send(port: number): number {
    const r = this.sendOutcome(port);
    return r < 0 ? r : 0;
  }

  /**
   * send() that also reports what happened: -EINVAL, or the Outcome of the set_pending
   * (EV_DROPPED for an unbound port, whose sends are silently dropped).
   */
  sendOutcome(port: number): number {
    if (!this.ports.valid(port)) return -EINVAL;
    const row = this.ports.read(port);
    switch (row.state) {
      case PortState.INTERDOMAIN:
        // Loopback: the peer is in this domain; if it was closed meanwhile the send is
        // dropped, as it would be on the (now UNBOUND) port.
        return this.raisePort(row.arg, PortState.INTERDOMAIN);
      case PortState.IPI:
        return this.setPending(port, row.vcpu, row.priority);
      case PortState.UNBOUND:
        return EV_DROPPED;
      default:
        return -EINVAL;
    }
  }

  /** EVTCHNOP_unmask (§3 / §4 unmask): 0 or -EINVAL. */
  unmask(port: number): number {
    if (!this.ports.valid(port)) return -EINVAL;
    const row = this.ports.read(port);
    const o = this.fifoActive ? this.fifo.unmask(port, row.vcpu, row.priority) : this.l2.unmask(port, row.vcpu);
    if (o !== undefined) this.afterReraise(port, row.vcpu, o);
    return 0;
  }

  /** After bind_vcpu: re-raise a pending, unmasked event on the new vCPU (pseudo-unmask). */
  reraise(port: number): void {
    const row = this.ports.read(port);
    if (this.fifoActive) {
      if (this.fifo.isPending(port) && !this.fifo.isMasked(port)) {
        this.afterReraise(port, row.vcpu, this.fifo.setPending(port, row.vcpu, row.priority));
      }
      return;
    }
    const o = this.l2.reraise(port, row.vcpu);
    if (o !== undefined) this.afterReraise(port, row.vcpu, o);
  }

  /** expand_array backed a shadow-pending FIFO port: link it now (not counted as a send). */
  replayShadow(port: number): void {
    const row = this.ports.read(port);
    if (row.state === PortState.FREE || row.state === PortState.RESERVED) return;
    this.afterReraise(port, row.vcpu, this.fifo.setPending(port, row.vcpu, row.priority));
  }

  private afterReraise(port: number, vcpu: number, o: Outcome): void {
    if (!(o & EV_DROPPED) && !(o & EV_MASKED)) this.ports.count(port, F.DELIVERIES);
    this.afterUpcall(port, vcpu, o);
  }

  /** The VMM raises a VIRQ (e.g. VIRQ_TIMER for `vcpu`); EV_DROPPED when not bound. */
  raiseVirq(virq: number, vcpu = 0): Outcome {
    if (!(virq >= 0 && virq < NR_VIRQS)) return EV_DROPPED;
    const port = this.ports.virqPort(virqSlot(virq, vcpu), virq);
    if (port === 0) return EV_DROPPED;
    const row = this.ports.read(port);
    if (row.state !== PortState.VIRQ || row.arg !== virq) return EV_DROPPED;
    return this.setPending(port, row.vcpu, row.priority);
  }

  /** The PIRQ layer raises a PIRQ; EV_DROPPED when no port is bound to it. */
  raisePirq(pirq: number): Outcome {
    const port = this.ports.pirqPort(pirq);
    if (port === 0) return EV_DROPPED;
    const row = this.ports.read(port);
    if (row.state !== PortState.PIRQ || row.arg !== pirq) return EV_DROPPED;
    return this.setPending(port, row.vcpu, row.priority);
  }

  isPending(port: number): boolean {
    return this.fifoActive ? this.fifo.isPending(port) : this.l2.isPending(port);
  }

  isMasked(port: number): boolean {
    return this.fifoActive ? this.fifo.isMasked(port) : this.l2.isMasked(port);
  }

  clearPending(port: number): void {
    if (this.fifoActive) this.fifo.clearPending(port);
    else this.l2.clearPending(port);
  }

  /**
   * The fast-path EVTCHNOPs, answered on the calling vCPU's thread: send and unmask.
   * Returns the hypercall result, or undefined for commands that belong to the control path.
   */
  fastOp(cmd: number, arg: bigint | number, args: GuestArgs): number | undefined {
    if (cmd !== EVTCHNOP_SEND && cmd !== EVTCHNOP_UNMASK) return undefined;
    const port = readU32Arg(args, arg);
    const rc = port < 0 ? port : cmd === EVTCHNOP_SEND ? this.send(port) : this.unmask(port);
    this.counters.op(cmd, rc);
    return rc;
  }
}

/** Read the u32 at `arg` (the whole struct of send/unmask/close); negative errno on fault. */
export function readU32Arg(args: GuestArgs, arg: bigint | number): number {
  const b = safeRead(args, arg, 4);
  if (typeof b === 'number') return b;
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

/** GuestArgs.read that never throws and always yields a Uint8Array of `len` or an errno. */
export function safeRead(args: GuestArgs, arg: bigint | number, len: number): Uint8Array | number {
  try {
    const r = args.read(arg, len);
    if (typeof r === 'number') return r < 0 ? r : -EFAULT;
    return r.length >= len ? r : -EFAULT;
  } catch {
    return -EFAULT;
  }
}
