// HYPERVISOR_vcpu_op(cmd, vcpuid, arg) and HYPERVISOR_set_timer_op(timeout)
// (xen-hvm-interfaces.md §1.6; public/vcpu.h; Xen common/domain.c, common/sched/core.c).
// Host thread (slow path): timers live on the host event loop (../timers.ts).
//
// register_vcpu_info: GPA = mfn << 12 + offset; the 64-byte vcpu_info must not cross a
// page (-ENXIO), must be RAM (-EINVAL), a second registration is -EBUSY. The current
// contents (the default slot in shared_info, if any) are copied to the new place, then
// evtchn_pending_sel = ~0 and an upcall is marked pending (a deliberate spurious event):
// EventChannels.registerVcpuInfo does that (8-byte alignment: -EINVAL); XenState records
// the place afterwards for upcall injection.
import { writeVcpuTime } from '../pvclock.js';
import { EBUSY, EINVAL, ENOENT, ENOSYS, ENXIO, ETIME } from '../errno.js';
import { HYPERVISOR_set_timer_op, HYPERVISOR_vcpu_op } from '../abi.js';
import type { HypercallHandler } from '../dispatcher.js';
import { PAGE_SIZE, VCPU_INFO_SIZE } from '../xen-state.js';
import type { XenDomain } from './domain.js';
import { argNum, readStruct } from './util.js';

export const VCPUOP_is_up = 3;
export const VCPUOP_set_periodic_timer = 6;
export const VCPUOP_stop_periodic_timer = 7;
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPUOP_register_vcpu_info = 10;
export const VCPU_SSHOTTMR_future = 1;
/** Xen rejects periods under 1 ms and above STIME_DELTA_MAX (2^62 - 1 ns here). */
export const MIN_PERIOD_NS = 1_000_000n;
const STIME_DELTA_MAX = (1n << 62n) - 1n;

function registerVcpuInfo(dom: XenDomain, vcpu: number, view: DataView): number {
  const s = dom.state;
  const mfn = view.getBigUint64(0, true);
  const offset = view.getUint32(8, true);
  if (offset + VCPU_INFO_SIZE > PAGE_SIZE) return -ENXIO;
  if (s.vcpuRegistered(vcpu)) return -EBUSY;
  const gpaBig = mfn * BigInt(PAGE_SIZE) + BigInt(offset);
  if (gpaBig > BigInt(Number.MAX_SAFE_INTEGER) || !s.mem.isRam(Number(gpaBig), VCPU_INFO_SIZE)) return -EINVAL;
  // The core copies the old contents, sets pending_sel = ~0 and upcall_pending, and raises
  // the upcall (Upcall.raise -> UpcallInjector.inject); it also refuses a misaligned one.
  const rc = dom.events.registerVcpuInfo(vcpu, Number(gpaBig));
  if (rc === 0) {
    s.setVcpuInfo(vcpu, Number(gpaBig));
    writeVcpuTime(s, vcpu); // pvclock at its new place (pvclock.ts)
  }
  return rc;
}

export function vcpuOpHandler(dom: XenDomain): HypercallHandler {
  return {
    nr: HYPERVISOR_vcpu_op,
    handle(call, guest) {
      const cmd = argNum(call.args[0]);
      const vcpu = argNum(call.args[1]);
      const arg = call.args[2]!;
      if (vcpu >= dom.state.cpus) return -ENOENT;
      const self = vcpu === call.vcpuId;
      switch (cmd) {
        case VCPUOP_register_vcpu_info: {
          const r = readStruct(guest, arg, 16); // {u64 mfn; u32 offset; u32 rsvd}
          return typeof r === 'number' ? r : registerVcpuInfo(dom, vcpu, r);
        }
        case VCPUOP_is_up:
          return dom.isUp(vcpu) ? 1 : 0;
        case VCPUOP_set_periodic_timer: {
          const r = readStruct(guest, arg, 8); // {u64 period_ns}
          if (typeof r === 'number') return r;
          const period = r.getBigUint64(0, true);
          if (period < MIN_PERIOD_NS || period > STIME_DELTA_MAX) return -EINVAL;
          dom.timers.setPeriodic(vcpu, period);
          return 0;
        }
        case VCPUOP_stop_periodic_timer:
          dom.timers.stopPeriodic(vcpu);
          return 0;
        case VCPUOP_set_singleshot_timer: {
          if (!self) return -EINVAL; // only the calling vCPU's own timer
          const r = readStruct(guest, arg, 16); // {u64 timeout_abs_ns; u32 flags}
          if (typeof r === 'number') return r;
          const at = r.getBigUint64(0, true);
          if (r.getUint32(8, true) & VCPU_SSHOTTMR_future && at < dom.state.nowNs()) return -ETIME;
          dom.timers.setSingleshot(vcpu, at);
          return 0;
        }
        case VCPUOP_stop_singleshot_timer:
          if (!self) return -EINVAL;
          dom.timers.stopSingleshot(vcpu);
          return 0;
        default:
          return -ENOSYS;
      }
    },
  };
}

/** set_timer_op(u64 abs_ns): 64-bit in arg0; 32-bit ABI: low half in EBX, high in ECX. 0 stops. */
export function setTimerOpHandler(dom: XenDomain): HypercallHandler {
  return {
    nr: HYPERVISOR_set_timer_op,
    handle(call) {
      const at = call.longMode ? call.args[0]! : (call.args[1]! << 32n) | call.args[0]!;
      if (at === 0n) dom.timers.stopSingleshot(call.vcpuId);
      else dom.timers.setSingleshot(call.vcpuId, at); // a past deadline fires at once
      return 0;
    },
  };
}
