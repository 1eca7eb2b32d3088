// HYPERVISOR_xen_version (public/version.h; Xen common/kernel.c do_xen_version). Pure:
// runs on the vCPU thread (fast path), writes only to the caller's buffers.
import { EINVAL, ENOSYS, EPERM } from '../errno.js';
import { HYPERVISOR_xen_version } from '../abi.js';
import { XEN_VERSION } from '../cpuid.js';
import type { HypercallHandler } from '../dispatcher.js';
import { argNum, readStruct } from './util.js';

export const XENVER_version = 0;
export const XENVER_extraversion = 1;
export const XENVER_compile_info = 2;
export const XENVER_capabilities = 3;
export const XENVER_changeset = 4;
export const XENVER_platform_parameters = 5;
export const XENVER_get_features = 6;
export const XENVER_pagesize = 7;
export const XENVER_guest_handle = 8;
export const XENVER_commandline = 9;
export const XENVER_build_id = 10;

// XENFEAT_* (public/features.h): the set QEMU's Xen emulation advertises to HVM guests.
export const XENFEAT_writable_page_tables = 0;
export const XENFEAT_writable_descriptor_tables = 1;
export const XENFEAT_auto_translated_physmap = 2;
export const XENFEAT_supervisor_mode_kernel = 3;
export const XENFEAT_hvm_callback_vector = 8;
export const XENFEAT_hvm_safe_pvclock = 9;
export const XENFEAT_hvm_pirqs = 10;
export const XEN_FEATURES_SUBMAP0 =
  [XENFEAT_writable_page_tables, XENFEAT_writable_descriptor_tables, XENFEAT_auto_translated_physmap,
    XENFEAT_supervisor_mode_kernel, XENFEAT_hvm_callback_vector, XENFEAT_hvm_safe_pvclock, XENFEAT_hvm_pirqs]
    .reduce((m, b) => m | (1 << b), 0);

const EXTRAVERSION = '.0';
const CAPABILITIES = 'hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p';
const PAGE_SIZE = 4096;

function cString(s: string, size: number): Uint8Array {
  const b = new Uint8Array(size);
  b.set(Buffer.from(s.slice(0, size - 1), 'latin1'));
  return b;
}

export const xenVersionHandler: HypercallHandler = {
  nr: HYPERVISOR_xen_version,
  fast: () => true,
  handle(call, guest) {
    const cmd = argNum(call.args[0]);
    const arg = call.args[1]!;
    switch (cmd) {
      case XENVER_version:
        return XEN_VERSION;
      case XENVER_extraversion:
        return guest.write(arg, cString(EXTRAVERSION, 16));
      case XENVER_compile_info: // {compiler[64]; compile_by[16]; compile_domain[32]; compile_date[32]}
        return guest.write(arg, cString('', 144));
      case XENVER_capabilities:
        return guest.write(arg, cString(CAPABILITIES, 1024));
      case XENVER_changeset:
        return guest.write(arg, cString('', 64));
      case XENVER_platform_parameters: // {xen_ulong_t virt_start}: no hypervisor hole in HVM
        return guest.write(arg, new Uint8Array(call.longMode ? 8 : 4));
      case XENVER_get_features: {
        const fi = readStruct(guest, arg, 8); // {u32 submap_idx; u32 submap}
        if (typeof fi === 'number') return fi;
        if (fi.getUint32(0, true) !== 0) return -EINVAL;
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, XEN_FEATURES_SUBMAP0, true);
        return guest.write(BigInt.asUintN(64, arg + 4n), out);
      }
      case XENVER_pagesize:
        return PAGE_SIZE;
      case XENVER_guest_handle:
        return guest.write(arg, new Uint8Array(16));
      case XENVER_commandline:
      case XENVER_build_id:
        return -EPERM; // privileged (XSM) in Xen
      default:
        return -ENOSYS;
    }
  },
};
