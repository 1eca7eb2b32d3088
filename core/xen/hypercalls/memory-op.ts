// HYPERVISOR_memory_op: only XENMEM_add_to_physmap for XENMAPSPACE_shared_info
// (xen-hvm-interfaces.md §1.4; public/memory.h; QEMU xen-emu.c do_add_to_physmap).
// Host thread (slow path). In this VMM shared_info is simply the guest RAM page at the
// GPFN the guest picks: mapping it zeroes the page (or moves the old contents there on a
// re-map), records the GFN in XenState (upcall injection finds the default vcpu_info) and
// in the event-channel core (EventChannels.setSharedInfo: 2-level bitmaps, port limit),
// and initialises the wallclock.
import { writeVcpuTime } from '../pvclock.js';
import { EINVAL, ENOSYS, EOPNOTSUPP, ESRCH } from '../errno.js';
import { HYPERVISOR_memory_op } from '../abi.js';
import { XEN_DOMID } from '../cpuid.js';
import type { HypercallHandler } from '../dispatcher.js';
import { D, PAGE_SIZE, XEN_LEGACY_MAX_VCPUS } from '../xen-state.js';
import type { XenState } from '../xen-state.js';
import type { XenDomain } from './domain.js';
import { argNum, DOMID_SELF, readStruct } from './util.js';

export const XENMEM_add_to_physmap = 7;
/** memory_op's cmd carries a continuation in bits 6+ (MEMOP_EXTENT_SHIFT). */
const MEMOP_CMD_MASK = 0x3f;
export const XENMAPSPACE_shared_info = 0;

// Wallclock in shared_info (§2): wc_version, wc_sec, wc_nsec, wc_sec_hi.
const WC_64 = { version: 0xc00, sec: 0xc04, nsec: 0xc08, secHi: 0xc0c };
const WC_32 = { version: 0x900, sec: 0x904, nsec: 0x908, secHi: 0x924 };

/** Write the wallclock (wall time at system time 0) with the version protocol (odd = updating). */
export function writeWallclock(state: XenState): void {
  const sh = state.sharedInfoGpa();
  if (sh < 0) return;
  const o = state.longMode() ? WC_64 : WC_32;
  const bootNs = BigInt(Date.now()) * 1_000_000n - state.nowNs();
  const sec = bootNs / 1_000_000_000n;
  const mem = state.mem;
  const v = mem.readU32(sh + o.version);
  mem.writeU32(sh + o.version, (v | 1) >>> 0);
  mem.writeU32(sh + o.sec, Number(sec & 0xffffffffn));
  mem.writeU32(sh + o.nsec, Number(bootNs % 1_000_000_000n));
  mem.writeU32(sh + o.secHi, Number(sec >> 32n));
  mem.writeU32(sh + o.version, (v + 2) & ~1);
}

export function addToPhysmapHandler(dom: XenDomain): HypercallHandler {
  return {
    nr: HYPERVISOR_memory_op,
    handle(call, guest) {
      const cmd = argNum(call.args[0]) & MEMOP_CMD_MASK;
      if (cmd !== XENMEM_add_to_physmap) return -ENOSYS;
      // 64-bit {u16 domid; u16 size; u32 space; u64 idx; u64 gpfn}; 32-bit: idx u32 @8, gpfn u32 @12
      const x = readStruct(guest, call.args[1]!, call.longMode ? 24 : 16);
      if (typeof x === 'number') return x;
      const domid = x.getUint16(0, true);
      const space = x.getUint32(4, true);
      const idx = call.longMode ? x.getBigUint64(8, true) : BigInt(x.getUint32(8, true));
      const gpfn = call.longMode ? x.getBigUint64(16, true) : BigInt(x.getUint32(12, true));
      if (domid !== DOMID_SELF && domid !== XEN_DOMID) return -ESRCH;
      if (space !== XENMAPSPACE_shared_info) return -EOPNOTSUPP; // QEMU: only shared_info (and grant tables)
      if (idx !== 0n) return -EINVAL;
      const gpa = gpfn * BigInt(PAGE_SIZE);
      if (gpa > BigInt(Number.MAX_SAFE_INTEGER) || !dom.state.mem.isRam(Number(gpa), PAGE_SIZE)) return -EINVAL;
      mapSharedInfo(dom, Number(gpfn));
      return 0;
    },
  };
}

function mapSharedInfo(dom: XenDomain, gfn: number): void {
  const s = dom.state;
  const mem = s.mem;
  const old = s.sharedInfoGpa();
  const gpa = gfn * PAGE_SIZE;
  if (old === gpa) return;
  const contents = old >= 0 ? mem.read(old, PAGE_SIZE) : new Uint8Array(PAGE_SIZE);
  mem.write(gpa, contents);
  s.set(D.SHINFO_GFN, gfn);
  dom.events.setSharedInfo(gpa, s.longMode()); // the core's view (2-level bitmaps, default vcpu_info)
  writeWallclock(s);
  // vCPUs without a registered vcpu_info now have the default one: deliver what is pending.
  for (let v = 0; v < Math.min(s.cpus, XEN_LEGACY_MAX_VCPUS); v++) {
    if (s.vcpuRegistered(v)) continue;
    writeVcpuTime(s, v); // pvclock in the default slot (pvclock.ts)
    dom.upcall.reassert(v);
  }
}
