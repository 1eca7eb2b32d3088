// The KVM system handle (/dev/kvm): API version, capabilities, supported CPUID, and VM
// creation. A host that lacks something the VMM needs is rejected up front with an error
// naming every missing capability, instead of failing later inside an ioctl.
import { VmmError } from '../errors.js';
import { nativeKvm, O_RDWR, isErrno } from './addon.js';
import * as K from './constants.js';
import { decodeCpuid2, CPUID_ENTRY_SIZE, type CpuidEntry } from './structs.js';
import { Vm } from './vm.js';

export class KvmUnavailableError extends VmmError {}
export class MissingCapabilityError extends VmmError {
  constructor(readonly missing: string[]) {
    super(`this host's KVM lacks ${missing.map((m) => `KVM_CAP_${m}`).join(', ')}; use a Linux host whose KVM offers them`);
  }
}

export const KVM_API_VERSION = 12;

export class Kvm {
  private constructor(readonly fd: number) {}

  static open(path = '/dev/kvm'): Kvm {
    const n = nativeKvm();
    let fd: number;
    try {
      fd = n.open(path, O_RDWR);
    } catch (cause) {
      const hint = isErrno(cause, 2)
        ? 'KVM is not available on this machine (no /dev/kvm); load the kvm module or use a host with virtualization'
        : isErrno(cause, 13)
          ? `no permission to open ${path}; add your user to the "kvm" group`
          : `cannot open ${path}`;
      throw new KvmUnavailableError(hint, { cause });
    }
    const version = n.ioctl(fd, K.KVM_GET_API_VERSION, 0);
    if (version !== KVM_API_VERSION) {
      n.close(fd);
      throw new KvmUnavailableError(`KVM API version ${version} is not the stable version ${KVM_API_VERSION}`);
    }
    return new Kvm(fd);
  }

  checkExtension(cap: number): number {
    return nativeKvm().ioctl(this.fd, K.KVM_CHECK_EXTENSION, cap);
  }

  /** Every known capability and the value the host reports for it (0 = absent). */
  capabilities(): Map<string, number> {
    const caps = new Map<string, number>();
    for (const [num, name] of Object.entries(K.CAPABILITY_NAMES)) caps.set(name, this.checkExtension(Number(num)));
    return caps;
  }

  requireCapabilities(caps: number[]): void {
    const missing = caps.filter((c) => this.checkExtension(c) <= 0).map((c) => K.CAPABILITY_NAMES[c] ?? `#${c}`);
    if (missing.length) throw new MissingCapabilityError(missing);
  }

  vcpuMmapSize(): number {
    return nativeKvm().ioctl(this.fd, K.KVM_GET_VCPU_MMAP_SIZE, 0);
  }

  supportedCpuid(): CpuidEntry[] {
    const max = 256;
    const buf = new Uint8Array(8 + max * CPUID_ENTRY_SIZE);
    new DataView(buf.buffer).setUint32(0, max, true);
    nativeKvm().ioctl(this.fd, K.KVM_GET_SUPPORTED_CPUID, buf);
    return decodeCpuid2(buf);
  }

  createVm(): Vm {
    return new Vm(this, nativeKvm().ioctl(this.fd, K.KVM_CREATE_VM, 0));
  }

  close(): void {
    nativeKvm().close(this.fd);
  }
}
