// HYPERVISOR_physdev_op for an HVM guest with XENFEAT_hvm_pirqs: the PIRQ sub-commands.
//
// Sources: shared/docs/xen-hvm-interfaces.md §6.1 (public/physdev.h; xen/arch/x86/physdev.c
// physdev_hvm_map_pirq / do_physdev_op; QEMU target/i386/kvm/xen-emu.c
// kvm_xen_hcall_physdev_op and hw/i386/kvm/xen_evtchn.c xen_physdev_*). HVM guests may use
// only map_pirq, unmap_pirq, eoi, irq_status_query and get_free_pirq; everything else
// (including pirq_eoi_gmfn_v1/v2, which QEMU also refuses) is -ENOSYS.
//
// Errno choices, per op (QEMU where it defines one, Xen where QEMU has none or is wrong):
//   map_pirq    short struct read → -EFAULT; domid not DOMID_SELF/own → -EPERM; type not
//               GSI (MSI, MSI_SEG, MULTI_MSI, anything) → -EINVAL (QEMU; Xen HVM the same);
//               index (GSI) outside [0, 24) → -EINVAL; index = the event-channel callback
//               GSI → -EINVAL (it must reach the IOAPIC: the GSI hook never eats it);
//               pirq < 0 → the PIRQ already mapped to that GSI (Xen) or a new one by the
//               get_free_pirq rules (-ENOSPC); pirq ≥ nr_pirqs → -EINVAL; pirq in use and
//               not merely allocated → -EBUSY (QEMU); GSI already mapped to another PIRQ →
//               -EBUSY (QEMU would silently remap, Xen silently ignores); result written back
//               (-EFAULT; a PIRQ allocated by this call is then freed again).
//   unmap_pirq  -EFAULT; -EPERM; pirq outside [0, nr_pirqs) → -EINVAL; not in use → -ENOENT;
//               not GSI-mapped (allocated or MSI-emu) → -EINVAL (QEMU). Bound ports stay.
//   eoi         -EFAULT; irq ≥ nr_pirqs → -EINVAL (Xen; QEMU has no check); not in use →
//               -ENOENT; not GSI-mapped → -EINVAL (QEMU); else re-raise if the GSI is high.
//   irq_status_query  -EFAULT; irq ≥ nr_pirqs → -EINVAL; not in use → -ENOENT (QEMU);
//               flags = NEEDS_EOI for GSI PIRQs, 0 otherwise (QEMU); written back (-EFAULT).
//   get_free_pirq  -EFAULT; allocation by type (pirq-table.ts) or -ENOSPC; written back
//               (-EFAULT, and the PIRQ is freed again).
// Struct layouts: map_pirq is 40 bytes in the 64-bit ABI (u64 table_base at 32) and 36 in
// the 32-bit ABI (table_base at 28); the others are identical in both.
//
// Threading: control path, host thread (forwarded from the vCPU thread). No locks.
import { safeRead } from '../evtchn/delivery.js';
import { EBUSY, EFAULT, EINVAL, ENOENT, ENOSYS, EPERM, errnoName } from '../errno.js';
import type { GuestArgs } from '../evtchn/types.js';
import type { GsiHook } from './gsi-hook.js';
import { MAP_PIRQ_TYPE_GSI, NR_IRQS_GSI, type PirqTable } from './pirq-table.js';

/** public/physdev.h sub-command numbers. */
export const PHYSDEVOP = {
  irq_status_query: 5,
  eoi: 12,
  map_pirq: 13,
  unmap_pirq: 14,
  pirq_eoi_gmfn_v1: 17,
  get_free_pirq: 23,
  pirq_eoi_gmfn_v2: 28,
} as const;

/** public/physdev.h MAP_PIRQ_TYPE_*. */
export const MAP_PIRQ_TYPE = { MSI: 0, GSI: MAP_PIRQ_TYPE_GSI, UNKNOWN: 2, MSI_SEG: 3, MULTI_MSI: 4 } as const;
/** public/physdev.h XENIRQSTAT_*. */
export const XENIRQSTAT_NEEDS_EOI = 1 << 0;
export const XENIRQSTAT_SHARED = 1 << 1;
/** public/xen.h DOMID_SELF. */
export const DOMID_SELF = 0x7ff0;

/** struct physdev_map_pirq: domid u16 @0, type @4, index @8, pirq @12 (all int). */
export const MAP_PIRQ = { domid: 0, type: 4, index: 8, pirq: 12, size64: 40, size32: 36 } as const;
/** struct physdev_unmap_pirq {domid u16 @0; int pirq @4}. */
export const UNMAP_PIRQ = { domid: 0, pirq: 4, size: 8 } as const;
/** struct physdev_eoi {u32 irq}. */
export const EOI = { irq: 0, size: 4 } as const;
/** struct physdev_irq_status_query {u32 irq @0; u32 flags @4 OUT}. */
export const IRQ_STATUS = { irq: 0, flags: 4, size: 8 } as const;
/** struct physdev_get_free_pirq {int type @0; u32 pirq @4 OUT}. */
export const GET_FREE_PIRQ = { type: 0, pirq: 4, size: 8 } as const;

const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PHYSDEVOP).map(([k, v]) => [v, k]));

export interface PhysdevOptions {
  table: PirqTable;
  gsi: GsiHook;
  /** This guest's domid (DOMID_SELF aliases it); default 0 as in the event channels. */
  ownDomid?: number;
  /** The event-channel callback GSI, or -1. */
  callbackGsi?: () => number;
}

export interface PhysdevStats {
  /** Calls per sub-command name ('unknown' for the rest). */
  calls: Record<string, number>;
  /** Failures: "<op> <ERRNO>" → count. */
  errors: Record<string, number>;
}

export class PhysdevOps {
  private readonly table: PirqTable;
  private readonly gsi: GsiHook;
  private readonly own: number;
  private readonly callbackGsi: () => number;
  private readonly counts: PhysdevStats = { calls: {}, errors: {} };

  constructor(o: PhysdevOptions) {
    this.table = o.table;
    this.gsi = o.gsi;
    this.own = o.ownDomid ?? 0;
    this.callbackGsi = o.callbackGsi ?? (() => -1);
  }

  /** HYPERVISOR_physdev_op(cmd, arg). Never throws; counts every call and errno. */
  physdevOp(cmd: number, arg: bigint | number, args: GuestArgs, longMode = true): number {
    let rc: number;
    try {
      rc = this.op(cmd >>> 0, arg, args, longMode);
    } catch {
      rc = -EFAULT; // a GuestArgs that threw: treat like a bad pointer
    }
    const name = OP_NAMES[cmd >>> 0] ?? 'unknown';
    this.counts.calls[name] = (this.counts.calls[name] ?? 0) + 1;
    if (rc < 0) {
      const key = `${name} ${errnoName(rc)}`;
      this.counts.errors[key] = (this.counts.errors[key] ?? 0) + 1;
    }
    return rc;
  }

  stats(): PhysdevStats {
    return { calls: { ...this.counts.calls }, errors: { ...this.counts.errors } };
  }

  private op(cmd: number, arg: bigint | number, args: GuestArgs, longMode: boolean): number {
    switch (cmd) {
      case PHYSDEVOP.map_pirq:
        return this.mapPirqOp(arg, args, longMode ? MAP_PIRQ.size64 : MAP_PIRQ.size32);
      case PHYSDEVOP.unmap_pirq: {
        const b = safeRead(args, arg, UNMAP_PIRQ.size);
        if (typeof b === 'number') return b;
        const v = view(b);
        return this.unmapPirq(v.getUint16(UNMAP_PIRQ.domid, true), v.getInt32(UNMAP_PIRQ.pirq, true));
      }
      case PHYSDEVOP.eoi: {
        const b = safeRead(args, arg, EOI.size);
        return typeof b === 'number' ? b : this.eoi(view(b).getUint32(EOI.irq, true));
      }
      case PHYSDEVOP.irq_status_query: {
        const b = safeRead(args, arg, IRQ_STATUS.size);
        if (typeof b === 'number') return b;
        const flags = this.irqStatus(view(b).getUint32(IRQ_STATUS.irq, true));
        if (flags < 0) return flags;
        const out = b.slice(0, IRQ_STATUS.size);
        view(out).setUint32(IRQ_STATUS.flags, flags, true);
        return write(args, arg, out);
      }
      case PHYSDEVOP.get_free_pirq: {
        const b = safeRead(args, arg, GET_FREE_PIRQ.size);
        if (typeof b === 'number') return b;
        const pirq = this.getFreePirq(view(b).getInt32(GET_FREE_PIRQ.type, true));
        if (pirq < 0) return pirq;
        const out = b.slice(0, GET_FREE_PIRQ.size);
        view(out).setUint32(GET_FREE_PIRQ.pirq, pirq, true);
        const rc = write(args, arg, out);
        if (rc < 0) this.table.release(pirq); // the guest never learnt it
        return rc;
      }
      default:
        return -ENOSYS;
    }
  }

  private mapPirqOp(arg: bigint | number, args: GuestArgs, size: number): number {
    const b = safeRead(args, arg, size);
    if (typeof b === 'number') return b;
    const v = view(b);
    const r = this.mapPirq(v.getUint16(MAP_PIRQ.domid, true), v.getInt32(MAP_PIRQ.type, true), v.getInt32(MAP_PIRQ.index, true), v.getInt32(MAP_PIRQ.pirq, true));
    if (r.rc < 0) return r.rc;
    const out = b.slice(0, size);
    view(out).setInt32(MAP_PIRQ.pirq, r.pirq, true);
    const rc = write(args, arg, out);
    if (rc < 0 && r.allocated) this.unmapInternal(r.pirq);
    return rc;
  }

  /** PHYSDEVOP_map_pirq semantics (header). */
  mapPirq(domid: number, type: number, index: number, pirq: number): { rc: number; pirq: number; allocated: boolean } {
    const fail = (rc: number) => ({ rc, pirq, allocated: false });
    if (!this.isSelf(domid)) return fail(-EPERM);
    if (type !== MAP_PIRQ_TYPE.GSI) return fail(-EINVAL);
    const gsi = index;
    if (!(gsi >= 0 && gsi < NR_IRQS_GSI) || gsi === this.callbackGsi()) return fail(-EINVAL);
    const t = this.table;
    const mappedTo = t.gsiPirq(gsi);
    let allocated = false;
    if (pirq < 0) {
      if (mappedTo >= 0) return { rc: 0, pirq: mappedTo, allocated: false };
      pirq = t.allocate(MAP_PIRQ_TYPE.GSI);
      if (pirq < 0) return fail(pirq);
      allocated = true;
    } else {
      if (pirq >= t.nrPirqs) return fail(-EINVAL);
      const kind = t.kind(pirq);
      if (kind !== null && kind !== 'unbound') return fail(-EBUSY);
      if (mappedTo >= 0) return fail(-EBUSY);
    }
    t.mapGsi(pirq, gsi);
    this.gsi.handoff(gsi, true);
    if (t.port(pirq) !== 0) this.gsi.reassert(pirq); // bound before it was mapped
    return { rc: 0, pirq, allocated };
  }

  /** PHYSDEVOP_unmap_pirq semantics (header). */
  unmapPirq(domid: number, pirq: number): number {
    if (!this.isSelf(domid)) return -EPERM;
    if (!this.table.valid(pirq)) return -EINVAL;
    if (!this.table.inUse(pirq)) return -ENOENT;
    if (this.table.gsiOf(pirq) < 0) return -EINVAL;
    this.unmapInternal(pirq);
    return 0;
  }

  private unmapInternal(pirq: number): void {
    const gsi = this.table.gsiOf(pirq);
    this.table.release(pirq);
    if (gsi >= 0) this.gsi.handoff(gsi, false);
  }

  /** PHYSDEVOP_eoi semantics (header). `irq` is the u32 from the guest. */
  eoi(irq: number): number {
    if (!this.table.valid(irq)) return -EINVAL;
    if (!this.table.inUse(irq)) return -ENOENT;
    if (this.table.gsiOf(irq) < 0) return -EINVAL;
    this.gsi.eoi(irq);
    return 0;
  }

  /** PHYSDEVOP_irq_status_query: the flags, or a negative errno. */
  irqStatus(irq: number): number {
    if (!this.table.valid(irq)) return -EINVAL;
    if (!this.table.inUse(irq)) return -ENOENT;
    return this.table.gsiOf(irq) >= 0 ? XENIRQSTAT_NEEDS_EOI : 0;
  }

  /** PHYSDEVOP_get_free_pirq: the PIRQ or -ENOSPC. */
  getFreePirq(type: number): number {
    return this.table.allocate(type);
  }

  private isSelf(domid: number): boolean {
    return domid === DOMID_SELF || domid === this.own;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function write(args: GuestArgs, arg: bigint | number, bytes: Uint8Array): number {
  try {
    const rc = args.write(arg, bytes);
    return rc === 0 ? 0 : rc < 0 ? rc : -EFAULT;
  } catch {
    return -EFAULT;
  }
}
