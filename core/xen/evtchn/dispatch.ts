// HYPERCALL_event_channel_op(cmd, arg) on the control path (host thread): reads the
// command's struct through GuestArgs, runs the typed operation (ops.ts, or delivery.ts
// for send/unmask), writes the OUT fields back and counts the result per (op, errno).
// Struct layouts are xen-hvm-interfaces.md §4/§5 (identical for 32- and 64-bit guests).
//
// Bad input never throws: a struct that cannot be read is -EFAULT with no side effect; a
// bind whose result cannot be written back is undone (the new port is closed) and
// returns -EFAULT, so the guest never holds a port it was not told about. (Xen leaves it
// bound; undoing keeps the VMM's and the guest's views consistent.) init_control keeps
// the mapping when link_bits cannot be written back (as Xen does).
import { EFAULT, ENOSYS } from '../errno.js';
import { safeRead, type EvtchnDelivery } from './delivery.js';
import { EVTCHN_FIFO_LINK_BITS } from './fifo.js';
import type { EvtchnOps } from './ops.js';
import type { GuestArgs } from './types.js';

export const EVTCHNOP = {
  bind_interdomain: 0,
  bind_virq: 1,
  bind_pirq: 2,
  close: 3,
  send: 4,
  status: 5,
  alloc_unbound: 6,
  bind_ipi: 7,
  bind_vcpu: 8,
  unmask: 9,
  reset: 10,
  init_control: 11,
  expand_array: 12,
  set_priority: 13,
} as const;

/** sizeof each EVTCHNOP struct (§4, §5). */
export const EVTCHNOP_SIZE: readonly number[] = [12, 12, 12, 4, 4, 24, 8, 8, 8, 4, 2, 24, 8, 8];

/** Which ops change the port table's structure (must run on the host thread). */
export function isControlPathOp(cmd: number): boolean {
  return cmd !== EVTCHNOP.send && cmd !== EVTCHNOP.unmask;
}

export class EvtchnDispatcher {
  constructor(
    private readonly d: EvtchnDelivery,
    private readonly ops: EvtchnOps,
  ) {}

  /** Run one EVTCHNOP; returns the hypercall result (0 / port-less success, or -errno). */
  op(cmd: number, arg: bigint | number, args: GuestArgs): number {
    let rc: number;
    try {
      rc = this.run(cmd, arg, args);
    } catch {
      rc = -EFAULT; // defensive: a GuestArgs implementation that throws
    }
    this.d.counters.op(cmd, rc);
    return rc;
  }

  private run(cmd: number, arg: bigint | number, args: GuestArgs): number {
    const size = Number.isInteger(cmd) && cmd >= 0 ? EVTCHNOP_SIZE[cmd] : undefined;
    if (size === undefined) return -ENOSYS;
    const raw = safeRead(args, arg, size);
    if (typeof raw === 'number') return raw;
    const buf = raw.slice(0, size);
    const dv = new DataView(buf.buffer, buf.byteOffset, size);
    const u16 = (o: number): number => dv.getUint16(o, true);
    const u32 = (o: number): number => dv.getUint32(o, true);
    const ops = this.ops;

    // A bind: port in `rc` (≥ 1) or -errno; on success write it at `outOff` and copy back.
    const bound = (rc: number, outOff: number): number => {
      if (rc < 0) return rc;
      dv.setUint32(outOff, rc, true);
      if (this.copyOut(args, arg, buf) < 0) {
        ops.close(rc);
        return -EFAULT;
      }
      return 0;
    };

    switch (cmd) {
      case EVTCHNOP.bind_interdomain:
        return bound(ops.bindInterdomain(u16(0), u32(4)), 8);
      case EVTCHNOP.bind_virq:
        return bound(ops.bindVirq(u32(0), u32(4)), 8);
      case EVTCHNOP.bind_pirq:
        return bound(ops.bindPirq(u32(0), u32(4)), 8);
      case EVTCHNOP.close:
        return ops.close(u32(0));
      case EVTCHNOP.send:
        return this.d.send(u32(0));
      case EVTCHNOP.status: {
        const r = ops.status(u16(0), u32(4));
        if (typeof r === 'number') return r;
        dv.setUint32(8, r.status, true);
        dv.setUint32(12, r.vcpu, true);
        dv.setUint32(16, r.u0, true);
        dv.setUint32(20, r.u1, true);
        return this.copyOut(args, arg, buf);
      }
      case EVTCHNOP.alloc_unbound:
        return bound(ops.allocUnbound(u16(0), u16(2)), 4);
      case EVTCHNOP.bind_ipi:
        return bound(ops.bindIpi(u32(0)), 4);
      case EVTCHNOP.bind_vcpu:
        return ops.bindVcpu(u32(0), u32(4));
      case EVTCHNOP.unmask:
        return this.d.unmask(u32(0));
      case EVTCHNOP.reset:
        return ops.reset(u16(0));
      case EVTCHNOP.init_control: {
        const rc = ops.initControl(dv.getBigUint64(0, true), u32(8), u32(12));
        if (rc < 0) return rc;
        dv.setUint8(16, EVTCHN_FIFO_LINK_BITS);
        return this.copyOut(args, arg, buf);
      }
      case EVTCHNOP.expand_array:
        return ops.expandArray(dv.getBigUint64(0, true));
      case EVTCHNOP.set_priority:
        return ops.setPriority(u32(0), u32(4));
      default:
        return -ENOSYS;
    }
  }

  private copyOut(args: GuestArgs, arg: bigint | number, buf: Uint8Array): number {
    try {
      const r = args.write(arg, buf);
      return typeof r === 'number' && r < 0 ? r : 0;
    } catch {
      return -EFAULT;
    }
  }
}
