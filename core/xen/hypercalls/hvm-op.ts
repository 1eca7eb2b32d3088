// HYPERVISOR_hvm_op: HVMOP_set_param / HVMOP_get_param (HVM_PARAM_CALLBACK_IRQ in its GSI,
// PCI INTx and vector forms; other params stored) and HVMOP_set_evtchn_upcall_vector
// (xen-hvm-interfaces.md §1.5; public/hvm/params.h, hvm_op.h; Xen hvm/irq.c
// hvm_set_callback_via; QEMU xen_evtchn_set_callback_param). Host thread (slow path).
//
// The Linux quirk: after setting a per-vCPU vector on CPU0, Linux writes CALLBACK_IRQ = 1
// ("GSI 1", to trick the toolstack). While any vCPU has a per-vCPU vector, a GSI/INTx
// CALLBACK_IRQ is stored (get_param returns it) but not routed, as QEMU does.
import { EINVAL, ENOENT, ENOSYS, ESRCH } from '../errno.js';
import { HYPERVISOR_hvm_op } from '../abi.js';
import { XEN_DOMID } from '../cpuid.js';
import type { HypercallHandler } from '../dispatcher.js';
import { CallbackKind, D, V } from '../xen-state.js';
import type { XenDomain } from './domain.js';
import { writeWallclock } from './memory-op.js';
import { argNum, DOMID_SELF, readStruct, writeStruct } from './util.js';

export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;
export const HVMOP_set_evtchn_upcall_vector = 23;
export const HVM_PARAM_CALLBACK_IRQ = 0;
/** public/hvm/params.h (Xen 4.17). */
export const HVM_NR_PARAMS = 39;
/** CALLBACK_IRQ value[63:56]: delivery type. */
export const HVM_PARAM_CALLBACK_TYPE_GSI = 0;
export const HVM_PARAM_CALLBACK_TYPE_PCI_INTX = 1;
export const HVM_PARAM_CALLBACK_TYPE_VECTOR = 2;
/** Vectors below 0x10 are exceptions/reserved (Xen hvm_set_evtchn_upcall_vector). */
export const MIN_UPCALL_VECTOR = 0x10;

export interface ResolvedCallback {
  kind: CallbackKind;
  value: number;
}

/** Decode a CALLBACK_IRQ value the way Xen does (never an error: bogus -> none). */
export function resolveCallback(value: bigint, dom: Pick<XenDomain, 'gsiCount' | 'intxGsi'>): ResolvedCallback {
  const none = { kind: CallbackKind.None, value: 0 };
  if (value === 0n) return none;
  const type = Number((value >> 56n) & 0xffn);
  const low = Number(value & 0xffffffffn);
  switch (type) {
    case HVM_PARAM_CALLBACK_TYPE_GSI: {
      const gsi = Number(value & 0xffn); // Xen takes the low 8 bits
      return gsi === 0 || gsi >= dom.gsiCount ? none : { kind: CallbackKind.Gsi, value: gsi };
    }
    case HVM_PARAM_CALLBACK_TYPE_PCI_INTX: {
      const gsi = dom.intxGsi((low >>> 11) & 31, low & 3); // Xen: dev = v>>11 & 31, pin = v & 3
      return gsi === undefined ? none : { kind: CallbackKind.Gsi, value: gsi };
    }
    case HVM_PARAM_CALLBACK_TYPE_VECTOR: {
      const vec = low & 0xff;
      return vec < MIN_UPCALL_VECTOR ? none : { kind: CallbackKind.Vector, value: vec };
    }
    default:
      return none;
  }
}

/**
 * Route the callback from a CALLBACK_IRQ value (and the per-vCPU vectors already set): the
 * resolved kind/value go to the shared state and the GSI line follows. Also used on restore.
 */
export function routeCallback(dom: Pick<XenDomain, 'state' | 'gsiCount' | 'intxGsi' | 'callbackChanged'>, value: bigint): ResolvedCallback {
  const s = dom.state;
  let cb = resolveCallback(value, dom);
  if (cb.kind === CallbackKind.Gsi && s.get(D.PERVCPU_VECTORS) > 0) cb = { kind: CallbackKind.None, value: 0 };
  s.set(D.CALLBACK_VALUE, cb.value);
  s.set(D.CALLBACK_KIND, cb.kind);
  dom.callbackChanged();
  return cb;
}

function applyCallback(dom: XenDomain, value: bigint): void {
  if (routeCallback(dom, value).kind !== CallbackKind.None) dom.upcall.reassert(0);
}

export function hvmOpHandler(dom: XenDomain): HypercallHandler {
  return {
    nr: HYPERVISOR_hvm_op,
    handle(call, guest) {
      const op = argNum(call.args[0]);
      const arg = call.args[1]!;
      switch (op) {
        case HVMOP_set_param:
        case HVMOP_get_param: {
          const p = readStruct(guest, arg, 16); // {u16 domid; u16 pad; u32 index; u64 value}
          if (typeof p === 'number') return p;
          const domid = p.getUint16(0, true);
          const index = p.getUint32(4, true);
          if (domid !== DOMID_SELF && domid !== XEN_DOMID) return -ESRCH;
          if (index >= HVM_NR_PARAMS) return -EINVAL;
          if (op === HVMOP_get_param) {
            const value = dom.params.get(index) ?? 0n;
            return writeStruct(guest, arg, 16, (dv) => {
              dv.setUint16(0, domid, true);
              dv.setUint32(4, index, true);
              dv.setBigUint64(8, value, true);
            });
          }
          const value = p.getBigUint64(8, true);
          dom.params.set(index, value);
          if (index === HVM_PARAM_CALLBACK_IRQ) {
            // Setting the callback latches the shared_info layout (hvm_latch_shinfo_size).
            const long = call.longMode ? 1 : 0;
            if (dom.state.get(D.LONG_MODE) !== long) {
              dom.state.set(D.LONG_MODE, long);
              const sh = dom.state.sharedInfoGpa();
              if (sh >= 0) dom.events.setSharedInfo(sh, long === 1); // new layout, new 2-level limit
              else dom.events.sharedInfo.setLongMode(long === 1);
              writeWallclock(dom.state);
            }
            applyCallback(dom, value);
          }
          return 0;
        }
        case HVMOP_set_evtchn_upcall_vector: {
          const u = readStruct(guest, arg, 8); // {u32 vcpu; u8 vector}
          if (typeof u === 'number') return u;
          const vcpu = u.getUint32(0, true);
          const vector = u.getUint8(4);
          if (vector < MIN_UPCALL_VECTOR) return -EINVAL;
          if (vcpu >= dom.state.cpus) return -ENOENT;
          const w = dom.state.vcpuWord(vcpu, V.UPCALL_VECTOR);
          if (dom.state.get(w) === 0) Atomics.add(dom.state.words, D.PERVCPU_VECTORS, 1);
          dom.state.set(w, vector);
          // A GSI callback routed before is now superseded (the Linux CALLBACK_IRQ=1 order).
          if (dom.state.get(D.CALLBACK_KIND) === CallbackKind.Gsi) applyCallback(dom, dom.params.get(HVM_PARAM_CALLBACK_IRQ) ?? 0n);
          dom.upcall.reassert(vcpu);
          return 0;
        }
        default:
          return -ENOSYS;
      }
    },
  };
}
