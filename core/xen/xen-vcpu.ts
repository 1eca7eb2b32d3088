// The Xen side of one vCPU worker thread: the hypercall MSR exits, the hypercall port
// exit, and the post-exit sampling of the GSI callback level (vCPU0). Built by
// core/machine/vcpu-worker.ts when WorkerInit.xen is set; everything here runs on that
// vCPU's thread.
//
// Hypercall path: `out 0x9a` exit -> registers (KVM_CAP_SYNC_REGS copies in kvm_run when
// the host has it, else KVM_GET_REGS/SREGS) -> decodeHypercall (64/32-bit ABI
// from CS.L, CPL from SS.DPL) -> VcpuDispatcher: fast-path handlers run here, the rest is
// forwarded to the host thread (ExitKind.Hypercall) -> result in RAX -> written back (sync
// regs dirty bit, or KVM_SET_REGS).
// Event channels: EVTCHNOP_send/unmask run here on an EvtchnDelivery attached to the
// host's EventChannels buffers (evtchn-seam.ts vcpuEvtchn); the control path is forwarded.
import { nativeKvm } from '../kvm/addon.js';
import * as K from '../kvm/constants.js';
import type { Vcpu } from '../kvm/vcpu.js';
import { GuestMemory } from '../memory/guest-memory.js';
import type { MsiMessage } from '../irq/types.js';
import { decodeHypercall, resultRax, type HypercallCall } from './abi.js';
import { VcpuDispatcher } from './dispatcher.js';
import { vcpuEvtchn, xenUpcall, type EvtchnBackend } from './evtchn-seam.js';
import { EvtchnDelivery } from './evtchn/delivery.js';
import type { EvtchnBuffers } from './evtchn/types.js';
import { GuestAccess } from './guest-access.js';
import { HYPERCALL_PORT, writeHypercallMsr } from './hypercall-page.js';
import { XEN_HYPERCALL_MSR } from './cpuid.js';
import { UpcallInjector } from './upcall.js';
import { calibrateTsc } from './pvclock.js';
import { D, XenState } from './xen-state.js';
import { XenStats } from './xen-stats.js';
import { xenVersionHandler } from './hypercalls/xen-version.js';
import { schedOpVcpuHandler } from './hypercalls/sched-op.js';
import { eventChannelOpHandler } from './hypercalls/evtchn-ops.js';
import { writeWallclock } from './hypercalls/memory-op.js';
import { EFER_LMA } from '../kvm/x86-regs.js';
import { ioctlRegisterAccess, type HypercallRegisterAccess } from '../machine/sync-regs.js';

/** What the host hands each vCPU worker of a xen-hvm VM (structured-clone safe). */
export interface XenWorkerInit {
  state: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  cpus: number;
  vmFd: number;
  /** The event-channel core's shared buffers (EventChannels.buffers()). */
  evtchn: EvtchnBuffers;
  /** KVM_CAP_SYNC_REGS usable: the worker reads/writes hypercall registers through kvm_run. */
  syncRegs?: boolean;
}

// Exit union of KVM_EXIT_X86_RDMSR/WRMSR: {u8 error @0; u8 pad[7]; u32 reason @8; u32 index @12; u64 data @16}
const MSR_ERROR = 0;
const MSR_INDEX = 12;
const MSR_DATA = 16;
const LAPIC_IRR = 0x200;
const CONTROL_RUN = 0;

function signalMsi(vmFd: number, msg: MsiMessage): void {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, msg.addressLo >>> 0, true);
  dv.setUint32(4, msg.addressHi >>> 0, true);
  dv.setUint32(8, msg.data >>> 0, true);
  nativeKvm().ioctl(vmFd, K.KVM_SIGNAL_MSI, b);
}

export class XenVcpu {
  readonly state: XenState;
  readonly stats: XenStats;
  readonly upcall: UpcallInjector;
  private readonly dispatcher: VcpuDispatcher;
  /** The event-channel fast path on this thread. */
  readonly delivery: EvtchnDelivery;
  private readonly evtchn: EvtchnBackend;
  /** Registers of the hypercall exit: KVM ioctls unless useRegisterAccess() gave sync regs. */
  private regs: HypercallRegisterAccess;

  constructor(
    private readonly vcpu: Vcpu,
    readonly mem: GuestMemory,
    private readonly init: XenWorkerInit,
    forward: (call: HypercallCall) => number,
    private readonly control: () => number,
    private readonly log: (line: string) => void,
  ) {
    this.regs = ioctlRegisterAccess(vcpu);
    this.state = new XenState({ buffer: init.state, cpus: init.cpus }, mem);
    this.stats = new XenStats(init.stats, init.cpus);
    this.upcall = new UpcallInjector(this.state, this.stats, (m) => signalMsi(init.vmFd, m));
    this.delivery = EvtchnDelivery.attach(init.evtchn, mem, xenUpcall(this.state, this.upcall));
    this.evtchn = vcpuEvtchn(this.delivery);
    this.dispatcher = new VcpuDispatcher(this.stats, (c) => new GuestAccess(mem, c.paging), forward);
    this.dispatcher.register(xenVersionHandler);
    this.dispatcher.register(schedOpVcpuHandler({
      state: this.state,
      vcpuId: vcpu.id,
      interrupted: () => this.control() !== CONTROL_RUN,
      interruptPending: () => this.lapicIrrPending(),
      evtchn: () => this.evtchn,
    }));
    this.dispatcher.register(eventChannelOpHandler(() => this.evtchn));
  }

  /** Use `access` (core/machine/sync-regs.ts) for the hypercall path's registers. */
  useRegisterAccess(access: HypercallRegisterAccess): void {
    this.regs = access;
  }

  private lapicIrrPending(): boolean {
    const lapic = this.vcpu.getLapic();
    for (let i = 0; i < 8; i++) if (lapic[LAPIC_IRR + i * 16] || lapic[LAPIC_IRR + i * 16 + 1] || lapic[LAPIC_IRR + i * 16 + 2] || lapic[LAPIC_IRR + i * 16 + 3]) return true;
    return false;
  }

  /** KVM_EXIT_X86_RDMSR / WRMSR: answer in the shadow union at `u`. */
  handleMsr(isWrite: boolean, shadow: DataView, u: number): void {
    const index = shadow.getUint32(u + MSR_INDEX, true);
    shadow.setUint8(u + MSR_ERROR, 0);
    if (index !== XEN_HYPERCALL_MSR) {
      // Only the Xen MSR is filtered; anything else here is a #GP like an unknown MSR.
      shadow.setUint8(u + MSR_ERROR, 1);
      this.stats.msrFault();
      return;
    }
    if (!isWrite) {
      shadow.setBigUint64(u + MSR_DATA, 0n, true);
      return;
    }
    const r = writeHypercallMsr(this.mem, shadow.getBigUint64(u + MSR_DATA, true));
    if (!r.ok) {
      shadow.setUint8(u + MSR_ERROR, 1);
      this.stats.msrFault();
      this.log(`vcpu${this.vcpu.id}: hypercall MSR write refused (#GP): ${r.reason}`);
      return;
    }
    this.stats.hypercallPage();
    calibrateTsc(this.state, this.vcpu.fd); // once per domain: the pvclock pair (pvclock.ts)
    // Latch the shared_info layout from the mode of the vCPU writing the MSR.
    const long = (this.vcpu.getSregs().efer & EFER_LMA) !== 0n ? 1 : 0;
    if (this.state.get(D.LONG_MODE) !== long) {
      this.state.set(D.LONG_MODE, long);
      this.delivery.sh.setLongMode(long === 1); // the core's layout (its 2-level limit follows on the next shared_info mapping)
      writeWallclock(this.state); // the wallclock moves with the layout (KVM does the same)
    }
  }

  /** True if this OUT was a hypercall (and has been handled). */
  handleIoOut(port: number): boolean {
    if (port !== HYPERCALL_PORT) return false;
    const { regs, sregs } = this.regs.read();
    const call = decodeHypercall(this.vcpu.id, regs, sregs);
    const result = this.dispatcher.dispatch(call);
    this.regs.setRax(resultRax(regs.rax, result, call.longMode));
    return true;
  }

  /** After every exit of this vCPU (cheap unless it is vCPU0 with a GSI callback raised). */
  afterExit(): void {
    if (this.vcpu.id === 0) this.upcall.sampleCallbackLevel();
  }
}
