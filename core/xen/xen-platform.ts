// Wires Xen HVM emulation into a Machine when `config.platform === 'xen-hvm'`
// (docs/xen-design.md). Host-thread object: owns the domain state (XenState), the
// counters (XenStats), the event-channel core (EventChannels: its control path runs here,
// its fast path on each vCPU thread from events.buffers()), the slow-path dispatcher, the
// vCPU timers (VIRQ_TIMER) and the GSI callback line.
//
// Setup order (machine.ts): after guest RAM exists and before vCPUs are created,
// `setupVm()` enables KVM_CAP_X86_USER_SPACE_MSR (reason FILTER) and installs the MSR
// filter for the hypercall MSR; per vCPU, `cpuid()` adds the Xen leaves and
// `workerInit()` gives the worker what its XenVcpu needs; forwarded hypercalls arrive in
// `answerForwarded()` (VcpuHost, ExitKind.Hypercall). saveInterruptState() /
// restoreInterruptState() are the machine-level snapshot (save-restore.ts).
import { nativeKvm } from '../kvm/addon.js';
import * as K from '../kvm/constants.js';
import type { Vm } from '../kvm/vm.js';
import type { CpuidEntry } from '../kvm/structs.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { VmmError } from '../errors.js';
import { decodeForward } from './abi.js';
import { xenCpuid } from './cpuid.js';
import { HostDispatcher } from './dispatcher.js';
import { hostEvtchn, VIRQ_TIMER, xenUpcall, type EvtchnBackend } from './evtchn-seam.js';
import { EventChannels, type EvtchnSnapshot } from './evtchn/evtchn.js';
import { GuestAccess } from './guest-access.js';
import { KVM_MSR_EXIT_REASON_FILTER, xenMsrFilter } from './hypercall-page.js';
import { XenTimers } from './timers.js';
import { PirqLayer, type PirqSnapshot } from './pirq/pirq.js';
import { eventsOf } from './pirq/events.js';
import { argNum } from './hypercalls/util.js';
import { CallbackLine, UpcallInjector } from './upcall.js';
import { captureXen, restoreXen } from './save-restore.js';
import { writeVcpuTime } from './pvclock.js';
import type { XenInterruptState } from './interrupt-state.js';
import { CallbackKind, D, XenState } from './xen-state.js';
import { XenStats, type XenStatsSample } from './xen-stats.js';
import type { XenWorkerInit } from './xen-vcpu.js';
import type { ShutdownKind, XenDomain } from './hypercalls/domain.js';
import { addToPhysmapHandler } from './hypercalls/memory-op.js';
import { hvmOpHandler } from './hypercalls/hvm-op.js';
import { setTimerOpHandler, vcpuOpHandler } from './hypercalls/vcpu-op.js';
import { schedOpHostHandler } from './hypercalls/sched-op.js';
import { consoleIoHandler } from './hypercalls/console-io.js';
import { eventChannelOpHandler, physdevOpHandler } from './hypercalls/evtchn-ops.js';

export class XenSetupError extends VmmError {}

export interface XenPlatformDeps {
  vm: Vm;
  mem: GuestMemory;
  cpus: number;
  gsiCount: number;
  /** The machine's interrupt line for a GSI (for the GSI/INTx callback). */
  gsiLine(gsi: number): { set(level: boolean): void };
  intxGsi(device: number, pin: number): number | undefined;
  log(line: string): void;
  shutdown(kind: ShutdownKind, detail: string): void;
  isUp(vcpu: number): boolean;
  /**
   * The PIRQ layer, when the machine built it early (its GSI hook and MSI recogniser must be
   * in place before PCI devices and the interrupt manager). Built here when absent; its
   * callbackGsi should read this platform's callbackGsi().
   */
  pirq?: PirqLayer;
}

const CONSOLE_LINE_MAX = 1024;
/** KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS (linux/kvm.h, x86): what the hypercall path needs. */
const SYNC_REGS_NEEDED = 0x1 | 0x2;

export interface XenPlatformSample extends XenStatsSample {
  sharedInfoGfn: number;
  callback: string;
  upcallVectors: number[];
  timersFired: number;
  /** The event-channel core: per port (type, vCPU, sends, deliveries, ...), per vCPU upcalls. */
  evtchn: EvtchnSnapshot;
  /** The PIRQ layer: per PIRQ (source, port, count), GSI hook, MSI→PIRQ, PHYSDEVOP counters. */
  pirq: PirqSnapshot;
}

export class XenPlatform implements XenDomain {
  readonly state: XenState;
  readonly stats: XenStats;
  readonly upcall: UpcallInjector;
  readonly timers: XenTimers;
  readonly events: EventChannels;
  readonly pirq: PirqLayer;
  readonly params = new Map<number, bigint>();
  readonly gsiCount: number;
  private readonly dispatcher: HostDispatcher;
  private readonly callbackLine: CallbackLine;
  private readonly backend: EvtchnBackend;
  private readonly consoleBuf: string[];
  /** KVM_CAP_SYNC_REGS with regs and sregs (set by setupVm). */
  private syncRegs = false;
  /** Kept referenced: KVM reads the filter bitmap through this memory. */
  private readonly msrBitmap = new Uint8Array(8);

  constructor(private readonly deps: XenPlatformDeps) {
    this.gsiCount = deps.gsiCount;
    this.state = XenState.create(deps.cpus, deps.mem);
    this.stats = XenStats.create(deps.cpus);
    this.upcall = new UpcallInjector(this.state, this.stats, (m) => deps.vm.signalMsi(m));
    this.pirq = deps.pirq ?? new PirqLayer({ nrPirqs: 256, callbackGsi: () => this.callbackGsi() });
    this.events = new EventChannels({
      mem: deps.mem, nrVcpus: deps.cpus, upcall: xenUpcall(this.state, this.upcall), nrPirqs: this.pirq.nrPirqs, pirq: this.pirq.binder,
    });
    this.pirq.attachEvents(eventsOf(this.events));
    const pirq = this.pirq;
    this.backend = {
      ...hostEvtchn(this.events),
      physdevOp: (call, guest) => pirq.physdevOp(argNum(call.args[0]), call.args[1]!, guest, call.longMode),
    };
    this.timers = new XenTimers(this.state, (v) => {
      writeVcpuTime(this.state, v); // Xen refreshes the vCPU's time info on its timer
      this.backend.raiseVirq?.(v, VIRQ_TIMER);
    });
    this.callbackLine = new CallbackLine(this.state, deps.gsiLine);
    this.consoleBuf = Array.from({ length: deps.cpus }, () => '');
    this.dispatcher = new HostDispatcher((c) => new GuestAccess(deps.mem, c.paging));
    for (const h of [
      addToPhysmapHandler(this), hvmOpHandler(this), vcpuOpHandler(this), setTimerOpHandler(this),
      schedOpHostHandler(this), consoleIoHandler(this),
      eventChannelOpHandler(() => this.backend), physdevOpHandler(() => this.backend),
    ]) this.dispatcher.register(h);
  }

  /** Trap the hypercall MSR: user-space MSR exits for filtered MSRs, and the filter. */
  setupVm(kvm: { checkExtension(cap: number): number }): void {
    for (const cap of [K.KVM_CAP_X86_USER_SPACE_MSR, K.KVM_CAP_X86_MSR_FILTER, K.KVM_CAP_SIGNAL_MSI]) {
      if (!kvm.checkExtension(cap)) throw new XenSetupError(`platform xen-hvm needs KVM capability ${K.CAPABILITY_NAMES[cap]}, which this host's KVM lacks`);
    }
    // Hypercall registers through kvm_run instead of 3 ioctls per call, where KVM offers it
    // (IRQBENCH_XEN_SYNC_REGS=0 turns it off, for comparisons).
    const sync = kvm.checkExtension(K.KVM_CAP_SYNC_REGS);
    this.syncRegs = (sync & SYNC_REGS_NEEDED) === SYNC_REGS_NEEDED && process.env.IRQBENCH_XEN_SYNC_REGS !== '0';
    this.deps.vm.enableCap(K.KVM_CAP_X86_USER_SPACE_MSR, [KVM_MSR_EXIT_REASON_FILTER]);
    this.deps.vm.setMsrFilter(xenMsrFilter(this.msrBitmap, nativeKvm().addressOf(this.msrBitmap)));
  }

  /** Whether vCPU workers are told to take hypercall registers from KVM_CAP_SYNC_REGS (setupVm's decision). */
  get usesSyncRegs(): boolean {
    return this.syncRegs;
  }

  cpuid(entries: CpuidEntry[], vcpuId: number): CpuidEntry[] {
    return xenCpuid(entries, vcpuId);
  }

  workerInit(): XenWorkerInit {
    return { state: this.state.init.buffer, stats: this.stats.buffer, cpus: this.deps.cpus, vmFd: this.deps.vm.fd, evtchn: this.events.buffers(), syncRegs: this.syncRegs };
  }

  /** ExitKind.Hypercall from a vCPU worker: the call is in `data`; returns the result. */
  answerForwarded(data: Uint8Array): number {
    return this.dispatcher.handle(decodeForward(data));
  }

  intxGsi(device: number, pin: number): number | undefined {
    return this.deps.intxGsi(device, pin);
  }

  /** The GSI of the event-channel callback (HVM_PARAM_CALLBACK_IRQ in GSI or INTx form), or -1. */
  callbackGsi(): number {
    return this.state.get(D.CALLBACK_KIND) === CallbackKind.Gsi ? this.state.get(D.CALLBACK_VALUE) : -1;
  }

  callbackChanged(): void {
    this.callbackLine.update();
  }

  /** IOAPIC EOI: re-sample the callback level (a level line still high re-delivers). */
  onEoi(): void {
    this.callbackLine.update();
  }

  console(vcpu: number, bytes: Uint8Array): void {
    let buf = this.consoleBuf[vcpu]! + Buffer.from(bytes).toString('latin1');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      this.deps.log(`xen console (vcpu${vcpu}): ${buf.slice(0, nl).replace(/\r$/, '')}`);
      buf = buf.slice(nl + 1);
    }
    if (buf.length > CONSOLE_LINE_MAX) {
      this.deps.log(`xen console (vcpu${vcpu}): ${buf}`);
      buf = '';
    }
    this.consoleBuf[vcpu] = buf;
  }

  shutdown(kind: ShutdownKind, detail: string): void {
    this.deps.shutdown(kind, detail);
  }

  isUp(vcpu: number): boolean {
    return this.deps.isUp(vcpu);
  }

  /**
   * The domain's interrupt state as plain versioned JSON (save-restore.ts). Host thread,
   * every vCPU paused: the fast paths must not be changing pending state meanwhile.
   */
  saveInterruptState(): XenInterruptState {
    return captureXen(this);
  }

  /** Validate `data` (untrusted) and rebuild this domain's interrupt state from it; vCPUs paused. */
  restoreInterruptState(data: unknown): void {
    restoreXen(this, data);
  }

  sample(): XenPlatformSample {
    const s = this.state;
    return {
      ...this.stats.sample(),
      sharedInfoGfn: s.get(D.SHINFO_GFN),
      callback: `${['none', 'gsi', 'vector'][s.get(D.CALLBACK_KIND)] ?? '?'}${s.get(D.CALLBACK_KIND) ? ` ${s.get(D.CALLBACK_VALUE)}` : ''}`,
      upcallVectors: Array.from({ length: s.cpus }, (_, v) => s.upcallVector(v)),
      timersFired: this.timers.fired,
      evtchn: this.events.snapshot(),
      pirq: this.pirq.snapshot(),
    };
  }

  dispose(): void {
    this.timers.dispose();
    this.callbackLine.dispose();
  }
}
