// A KVM virtual machine: memory slots, the irqchip (in-kernel or split), interrupt lines,
// GSI routing, irqfd, MSI injection and vCPU creation. Thin typed wrappers over VM ioctls;
// policy (which GSI goes where) lives in the machine and the interrupt fabric.
import { nativeKvm } from './addon.js';
import * as K from './constants.js';
import type { Kvm } from './kvm.js';
import type { MsiMessage } from '../irq/types.js';

/** sizeof(struct kvm_irqchip): chip_id, pad, 512-byte chip state union. */
const KVM_IRQCHIP_STRUCT_SIZE = 520;

export type GsiRoute =
  | { gsi: number; type: 'irqchip'; irqchip: number; pin: number }
  | { gsi: number; type: 'msi'; msg: MsiMessage };

const ROUTE_ENTRY_SIZE = 48;

export class Vm {
  constructor(
    readonly kvm: Kvm,
    readonly fd: number,
  ) {}

  private ioctl(req: number, arg: number | bigint | Uint8Array = 0): number {
    return nativeKvm().ioctl(this.fd, req, arg);
  }

  setTssAddr(addr: number): void {
    this.ioctl(K.KVM_SET_TSS_ADDR, addr);
  }

  setIdentityMapAddr(addr: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(addr), true);
    this.ioctl(K.KVM_SET_IDENTITY_MAP_ADDR, b);
  }

  /** Map `size` bytes at host address `hva` as guest-physical `gpa` (size 0 deletes the slot). */
  setUserMemoryRegion(slot: number, gpa: number, size: number, hva: bigint, flags = 0): void {
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, slot, true);
    dv.setUint32(4, flags, true);
    dv.setBigUint64(8, BigInt(gpa), true);
    dv.setBigUint64(16, BigInt(size), true);
    dv.setBigUint64(24, hva, true);
    this.ioctl(K.KVM_SET_USER_MEMORY_REGION, b);
  }

  createIrqchip(): void {
    this.ioctl(K.KVM_CREATE_IRQCHIP);
  }

  /** KVM_GET_IRQCHIP (in-kernel irqchip): raw struct kvm_irqchip of chip 0/1 (PICs) or 2 (IOAPIC). */
  getIrqchip(chipId: number): Uint8Array {
    const b = new Uint8Array(KVM_IRQCHIP_STRUCT_SIZE);
    new DataView(b.buffer).setUint32(0, chipId, true);
    this.ioctl(K.KVM_GET_IRQCHIP, b);
    return b;
  }

  enableCap(cap: number, args: (number | bigint)[] = [], flags = 0): void {
    const b = new Uint8Array(104);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, cap, true);
    dv.setUint32(4, flags, true);
    args.forEach((a, i) => dv.setBigUint64(8 + i * 8, BigInt(a), true));
    this.ioctl(K.KVM_ENABLE_CAP, b);
  }

  /**
   * KVM_X86_SET_MSR_FILTER with a prepared struct kvm_msr_filter (core/xen/hypercall-page
   * builds one). The bitmaps it points at must be V8 memory the caller keeps referenced.
   */
  setMsrFilter(filter: Uint8Array): void {
    this.ioctl(K.KVM_X86_SET_MSR_FILTER, filter);
  }

  /** Split irqchip: LAPICs in KVM, IOAPIC/PIC in userspace; `ioapicPins` GSIs are reserved. */
  enableSplitIrqchip(ioapicPins: number): void {
    this.enableCap(K.KVM_CAP_SPLIT_IRQCHIP, [ioapicPins]);
  }

  createPit2(): void {
    this.ioctl(K.KVM_CREATE_PIT2, new Uint8Array(64));
  }

  /** Drive a GSI (in-kernel irqchip pin, or an MSI route in split mode) to `level`. */
  irqLine(gsi: number, level: boolean): void {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, gsi, true);
    dv.setUint32(4, level ? 1 : 0, true);
    this.ioctl(K.KVM_IRQ_LINE, b);
  }

  /** Replace the whole GSI routing table (KVM has no incremental update). */
  setGsiRouting(routes: GsiRoute[]): void {
    if (routes.length > K.KVM_MAX_IRQ_ROUTES) throw new RangeError(`at most ${K.KVM_MAX_IRQ_ROUTES} GSI routes`);
    const b = new Uint8Array(8 + routes.length * ROUTE_ENTRY_SIZE);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, routes.length, true);
    routes.forEach((r, i) => {
      const o = 8 + i * ROUTE_ENTRY_SIZE;
      dv.setUint32(o, r.gsi, true);
      if (r.type === 'irqchip') {
        dv.setUint32(o + 4, K.KVM_IRQ_ROUTING_IRQCHIP, true);
        dv.setUint32(o + 16, r.irqchip, true);
        dv.setUint32(o + 20, r.pin, true);
      } else {
        dv.setUint32(o + 4, K.KVM_IRQ_ROUTING_MSI, true);
        dv.setUint32(o + 16, r.msg.addressLo >>> 0, true);
        dv.setUint32(o + 20, r.msg.addressHi >>> 0, true);
        dv.setUint32(o + 24, r.msg.data >>> 0, true);
      }
    });
    this.ioctl(K.KVM_SET_GSI_ROUTING, b);
  }

  irqfd(fd: number, gsi: number, opts: { deassign?: boolean; resampleFd?: number } = {}): void {
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    let flags = 0;
    if (opts.deassign) flags |= K.KVM_IRQFD_FLAG_DEASSIGN;
    if (opts.resampleFd !== undefined) flags |= K.KVM_IRQFD_FLAG_RESAMPLE;
    dv.setUint32(0, fd, true);
    dv.setUint32(4, gsi, true);
    dv.setUint32(8, flags, true);
    dv.setUint32(12, opts.resampleFd ?? 0, true);
    this.ioctl(K.KVM_IRQFD, b);
  }

  /**
   * KVM_IOEVENTFD: guest writes of `len` bytes (0 = any length, MMIO only) to `addr` signal
   * `fd` inside the kernel, without an exit. `datamatch` restricts it to one written value;
   * `deassign` removes a registration made with the same arguments.
   */
  ioeventfd(addr: number, len: number, fd: number, opts: { pio?: boolean; datamatch?: number | bigint; deassign?: boolean } = {}): void {
    const b = new Uint8Array(64);
    const dv = new DataView(b.buffer);
    let flags = 0;
    if (opts.datamatch !== undefined) flags |= K.KVM_IOEVENTFD_FLAG_DATAMATCH;
    if (opts.pio) flags |= K.KVM_IOEVENTFD_FLAG_PIO;
    if (opts.deassign) flags |= K.KVM_IOEVENTFD_FLAG_DEASSIGN;
    dv.setBigUint64(0, BigInt(opts.datamatch ?? 0), true);
    dv.setBigUint64(8, BigInt(addr), true);
    dv.setUint32(16, len, true);
    dv.setInt32(20, fd, true);
    dv.setUint32(24, flags, true);
    this.ioctl(K.KVM_IOEVENTFD, b);
  }

  /** Inject an MSI; returns >0 delivered, 0 blocked by the guest. */
  signalMsi(msg: MsiMessage): number {
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, msg.addressLo >>> 0, true);
    dv.setUint32(4, msg.addressHi >>> 0, true);
    dv.setUint32(8, msg.data >>> 0, true);
    return this.ioctl(K.KVM_SIGNAL_MSI, b);
  }

  createVcpu(id: number): number {
    return this.ioctl(K.KVM_CREATE_VCPU, id);
  }

  close(): void {
    nativeKvm().close(this.fd);
  }
}
