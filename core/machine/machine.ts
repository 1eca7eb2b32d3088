// A virtual machine on KVM: builds everything a MachineConfig describes and runs it.
//
// Build order (each step needs the one before): /dev/kvm and its capabilities -> VM ->
// irqchip (must exist before vCPUs so APs start in wait-for-SIPI) -> guest RAM -> buses and
// legacy devices -> firmware tables -> kernel image -> vCPUs (CPUID, boot state on vCPU 0)
// -> one worker thread per vCPU. The machine is the single owner of VM-level state:
// vCPU workers report through messages, and the first terminal event (debug-exit, guest
// shutdown/reset, crash, stop()) decides the MachineResult; everything after is cleanup.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmmError } from '../errors.js';
import { IoBus } from '../bus/io-bus.js';
import { Kvm } from '../kvm/kvm.js';
import { nativeKvm } from '../kvm/addon.js';
import * as K from '../kvm/constants.js';
import type { Vm } from '../kvm/vm.js';
import { Vcpu } from '../kvm/vcpu.js';
import type { Regs, Sregs } from '../kvm/structs.js';
import { KvmBinaryStats } from '../kvm/binary-stats.js';
import { allocateGuestRam, type GuestRam } from '../kvm/guest-ram.js';
import { pcLayout, MiB, KVM_TSS_ADDR, KVM_IDENTITY_MAP_ADDR } from '../memory/layout.js';
import { loadKernel } from '../boot/index.js';
import type { BootState } from '../boot/types.js';
import { buildFirmwareTables } from '../tables/index.js';
import { applyBootState, cpuidFor } from './cpu-setup.js';
import { KernelIrqchip, SplitIrqchip, type Irqchip } from './irqchip.js';
import { createLegacyDevices, type LegacyDevices } from './legacy-devices.js';
import { VcpuHost } from './vcpu-host.js';
import type { WorkerMessage } from './vcpu-channel.js';
import type { MachineConfig } from './config.js';
import { MachineConfigError } from './errors.js';
import { isPciDevice } from './config.js';
import { KvmInterruptManager } from '../irq/kvm-interrupt-manager.js';
import type { IntxInterruptGroup } from '../irq/interrupt-manager.js';
import { createPciPlatform, type PciPlatform } from './pci-platform.js';
import { createPciDevice } from './pci-devices.js';
import type { PciDevice } from './pci-device.js';
import './pci-device-types.js';
import { XenPlatform } from '../xen/xen-platform.js';
import { IOAPIC_PINS, isaToIoapicPin } from './irqchip.js';
import { PirqLayer } from '../xen/pirq/pirq.js';
import { xenInterruptManager } from '../xen/pirq/xen-intx.js';
import { fdWatcher } from '../irq/fd-watcher.js';
import { nativeEventFds } from '../irq/eventfd.js';
import type { IrqLine } from '../irq/types.js';
import { restoreInterruptState, saveInterruptState, type MachineInterruptState } from './interrupt-snapshot.js';

export { MachineConfigError };

export type MachineState = 'created' | 'running' | 'paused' | 'stopped' | 'crashed';

export interface MachineResult {
  reason: 'debug-exit' | 'shutdown' | 'reset' | 'crash' | 'stopped' | 'error';
  /** Exit status for the CLI: the guest's debug-exit value, 0 for clean ends, non-zero otherwise. */
  status: number;
  detail: string;
}

export interface MachineIo {
  onConsole?(bytes: Uint8Array): void;
  onLog?(line: string): void;
  onState?(state: MachineState): void;
  /** Called once when the machine has stopped running, before its KVM resources are freed. */
  onEnding?(machine: Machine): void;
}


/** Capabilities this VMM cannot run without. */
const REQUIRED_CAPS = [
  K.KVM_CAP_IRQCHIP, K.KVM_CAP_USER_MEMORY, K.KVM_CAP_SET_TSS_ADDR, K.KVM_CAP_EXT_CPUID,
  K.KVM_CAP_MP_STATE, K.KVM_CAP_IRQ_ROUTING, K.KVM_CAP_IMMEDIATE_EXIT, K.KVM_CAP_PIT2,
];

export class Machine {
  readonly log: string[] = [];
  readonly pio = new IoBus('pio', 0x10000);
  readonly mmio = new IoBus('mmio', 2 ** 52);
  readonly kvm: Kvm;
  readonly vm!: Vm;
  readonly ram!: GuestRam;
  readonly irqchip!: Irqchip;
  readonly devices!: LegacyDevices;
  readonly boot!: BootState;
  readonly interrupts!: KvmInterruptManager;
  readonly pci!: PciPlatform;
  readonly pciDevices: PciDevice[] = [];
  /** Xen HVM emulation (platform xen-hvm only). */
  readonly xen?: XenPlatform;
  /**
   * The Xen PIRQ layer (xen-hvm only). Built right after the VM: its MSI recogniser wraps
   * the VM the interrupt groups inject through, and its GSI hook sits in front of the PCI
   * INTx and ISA lines before the IOAPIC. The Xen platform attaches its event channels.
   */
  readonly pirq?: PirqLayer;
  private runDir?: string;
  readonly vcpus: VcpuHost[] = [];
  /** KVM's own per-vCPU counters (KVM_GET_STATS_FD), where the host offers them. */
  readonly vcpuKvmStats: (KvmBinaryStats | undefined)[] = [];
  private readonly vcpuFds: number[] = [];
  private _state: MachineState = 'created';
  private finish!: (r: MachineResult) => void;
  private ended = false;
  /** Resolves once, with the first terminal event, after every vCPU has stopped. */
  readonly result: Promise<MachineResult>;

  constructor(
    readonly config: MachineConfig,
    private readonly io: MachineIo = {},
  ) {
    validate(config);
    this.result = new Promise((r) => (this.finish = r));
    // Read every image before touching KVM: a wrong path is the commonest mistake.
    const kernel = readImage(config.boot.kernel, 'kernel');
    const modules = [
      ...(config.boot.initrd ? [{ data: readImage(config.boot.initrd, 'initrd') }] : []),
      ...(config.boot.modules ?? []).map((m) => ({ data: readImage(m, 'module'), cmdline: m })),
    ];
    this.kvm = Kvm.open();
    try {
      this.kvm.requireCapabilities(config.irqchip === 'split' ? [...REQUIRED_CAPS, K.KVM_CAP_SPLIT_IRQCHIP] : REQUIRED_CAPS);
      this.vm = this.kvm.createVm();
      this.vm.setTssAddr(KVM_TSS_ADDR);
      this.vm.setIdentityMapAddr(KVM_IDENTITY_MAP_ADDR);
      this.irqchip = config.irqchip === 'split' ? new SplitIrqchip(this.vm, this.mmio) : new KernelIrqchip(this.vm);
      if (config.platform === 'xen-hvm') {
        this.pirq = new PirqLayer({ nrPirqs: 256, callbackGsi: () => this.xen?.callbackGsi() ?? -1 });
      }
      const pirq = this.pirq;
      this.interrupts = new KvmInterruptManager({
        vm: pirq ? pirq.msi.wrapVm(this.vm) : this.vm,
        irqchip: this.irqchip,
        maxRoutes: config.gsiRouteLimit,
        ...(pirq && { userspaceMsi: (m) => pirq.msi.isPirqMsi(m) }),
      });
      this.ram = allocateGuestRam(this.vm, pcLayout(config.memoryMiB * MiB));
      // xen-hvm: ISA lines pass the PIRQ GSI hook before the PIC/IOAPIC.
      const chip = this.irqchip;
      const isaChip: Irqchip = pirq
        ? new Proxy(chip, {
            get: (t, prop) => {
              if (prop === 'isaLine') return (irq: number): IrqLine => pirq.gsi.wrap(isaToIoapicPin(irq), t.isaLine(irq));
              const value: unknown = Reflect.get(t, prop, t);
              return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
            },
          })
        : chip;
      this.devices = createLegacyDevices({ config, pio: this.pio, irqchip: isaChip }, {
        onConsole: (b) => this.io.onConsole?.(b),
        onDebugExit: (status) => this.end({ reason: 'debug-exit', status, detail: `guest wrote ${status} to the debug-exit port` }),
        onReset: () => this.end({ reason: 'reset', status: 0, detail: 'guest requested a reset' }),
      });
      this.pci = this.createPci();
      if (config.platform === 'xen-hvm') this.xen = this.createXen();
      const { bridge, windows } = this.pci;
      const { rsdpAddr } = buildFirmwareTables(this.ram.memory, {
        cpus: config.cpus,
        extraTables: [bridge.mcfgTable()],
        pci: {
          routes: bridge.intxRoutes(),
          ecam: { start: bridge.ecamBase, end: bridge.ecamBase + bridge.ecamSize },
          mmio32: windows.mmio32,
          mmio64: windows.mmio64,
        },
      });
      try {
        this.boot = loadKernel(this.ram.memory, { kernel, cmdline: config.boot.cmdline, modules, rsdpAddr }, config.boot.kind);
      } catch (cause) {
        throw new ImageReadError(`${config.boot.kernel}: ${(cause as Error).message}`, { cause });
      }
      this.logLine(`boot: ${this.boot.description}`);
      this.createVcpus();
    } catch (e) {
      this.release();
      throw e;
    }
  }

  /** Host bridge, the profile's PCI devices, and firmware-style BAR assignment. */
  private createPci(): PciPlatform {
    const intx = new Map<number, IntxInterruptGroup>();
    const pci = createPciPlatform({
      pio: this.pio,
      mmio: this.mmio,
      layout: this.ram.memory.layout,
      intxLine: (gsi) => {
        let g = intx.get(gsi);
        if (!g) {
          intx.set(gsi, (g = this.interrupts.createIntxGroup({ device: `pci-intx-gsi${gsi}`, gsi })));
          g.enable(); // a group that is never enabled would swallow every assertion
        }
        const group = g;
        const line: IrqLine = { set: (level) => group.setLevel(level) };
        return this.pirq ? this.pirq.gsi.wrap(gsi, line) : line; // xen-hvm: PIRQ GSI hook first
      },
      onReset: () => this.end({ reason: 'reset', status: 0, detail: 'guest requested a reset (port 0xcf9)' }),
    });
    const counts = new Map<string, number>();
    for (const d of this.config.devices.filter(isPciDevice)) {
      const n = counts.get(d.type) ?? 0;
      counts.set(d.type, n + 1);
      this.runDir ??= mkdtempSync(join(tmpdir(), 'irqbench-'));
      let created: PciDevice | undefined;
      const dev = (created = createPciDevice(d, {
        name: `${d.type}${n}`,
        vm: this.vm,
        interrupts: this.pirq ? xenInterruptManager(this.interrupts, { hook: this.pirq.gsi, watcher: fdWatcher(), eventfds: nativeEventFds() }) : this.interrupts,
        ram: this.ram,
        layout: this.ram.memory.layout,
        runDir: this.runDir,
        log: (line) => this.logLine(`${d.type}${n}: ${line}`),
        onFailure: (reason) => this.logLine(`${d.type}${n} failed: ${reason}; the VM keeps running without it`),
        intxGsi: () => {
          const at = created && pci.bridge.list().find((e) => e.fn === created!.fn);
          const pin = created?.fn.interruptPin ?? 0;
          return at && pin > 0 ? pci.bridge.intx.route(0, at.device, pin - 1).ioapicPin : undefined;
        },
        ...(this.pirq && { xenMsi: this.pirq.msi }),
      }));
      this.pciDevices.push(dev);
      pci.bridge.addFunction(dev.fn, d.slot === undefined ? undefined : { device: d.slot, function: 0 });
    }
    pci.assignResources();
    return pci;
  }

  private createXen(): XenPlatform {
    const callbackLines = new Map<number, IntxInterruptGroup>();
    const xen = new XenPlatform({
      vm: this.vm,
      mem: this.ram.memory,
      cpus: this.config.cpus,
      gsiCount: IOAPIC_PINS,
      gsiLine: (gsi) => {
        let g = callbackLines.get(gsi);
        if (!g) {
          callbackLines.set(gsi, (g = this.interrupts.createIntxGroup({ device: `xen-callback-gsi${gsi}`, gsi })));
          g.enable();
        }
        const group = g;
        return { set: (level) => group.setLevel(level) };
      },
      intxGsi: (device, pin) => this.pci.bridge.intx.route(0, device, pin).ioapicPin,
      log: (line) => this.logLine(line),
      shutdown: (kind, detail) => this.end(
        kind === 'poweroff' ? { reason: 'shutdown', status: 0, detail } : kind === 'reboot' ? { reason: 'reset', status: 0, detail } : { reason: 'crash', status: 255, detail },
      ),
      isUp: (vcpu) => vcpu < this.config.cpus,
      pirq: this.pirq,
    });
    xen.setupVm(this.kvm);
    this.logLine(`platform: xen-hvm (Xen 4.17 CPUID leaves, hypercall MSR 0x40000000, hypercall port 0x9a)`);
    return xen;
  }

  private createVcpus(): void {
    const supported = this.kvm.supportedCpuid();
    const mmapSize = this.kvm.vcpuMmapSize();
    for (let id = 0; id < this.config.cpus; id++) {
      const vcpu = new Vcpu(id, this.vm.createVcpu(id));
      this.vcpuFds.push(vcpu.fd);
      this.vcpuKvmStats.push(KvmBinaryStats.open(vcpu.fd));
      const cpuid = cpuidFor(supported, id, this.config.cpus);
      vcpu.setCpuid(this.xen ? this.xen.cpuid(cpuid, id) : cpuid);
      if (id === 0) applyBootState(vcpu, this.boot);
      this.vcpus.push(new VcpuHost(id, vcpu.fd, mmapSize, {
        pio: this.pio,
        mmio: this.mmio,
        onEoi: (v) => {
          this.irqchip.eoi(v);
          this.xen?.onEoi();
        },
        onMessage: (i, m) => this.onVcpuMessage(i, m),
        workerInit: () => ({
          ram: { buffer: this.ram.memory.buffer, byteOffset: this.ram.memory.byteOffset, layout: this.ram.memory.layout },
          ...(this.xen && { xen: this.xen.workerInit() }),
        }),
        ...(this.xen && { hypercall: (data: Uint8Array) => this.xen!.answerForwarded(data) }),
      }));
    }
  }

  get state(): MachineState {
    return this._state;
  }

  private setState(s: MachineState): void {
    if (this._state === s) return;
    this._state = s;
    this.io.onState?.(s);
  }

  logLine(line: string): void {
    this.log.push(line);
    this.io.onLog?.(line);
  }

  async start(): Promise<void> {
    if (this._state !== 'created') throw new MachineConfigError(`cannot start a machine that is ${this._state}`);
    try {
      await Promise.all(this.pciDevices.map((d) => d.start()));
    } catch (e) {
      await this.stopDevices();
      this.release();
      throw e;
    }
    // stop() may have come while devices were starting: never spawn vCPUs after the end.
    if (this.ended) return;
    await Promise.all(this.vcpus.map((v) => v.start()));
    if (!this.ended) this.setState('running');
  }

  pause(): void {
    if (this._state !== 'running') return;
    this.vcpus.forEach((v) => v.pause());
    this.setState('paused');
  }

  resume(): void {
    if (this._state !== 'paused') return;
    this.vcpus.forEach((v) => v.resume());
    this.setState('running');
  }

  /** Stop the VM (if still running) and wait for its result. */
  async stop(): Promise<MachineResult> {
    this.end({ reason: 'stopped', status: 0, detail: 'stopped by the user' });
    return this.result;
  }

  /**
   * Registers of a paused vCPU. Only while paused: a vCPU ioctl on a thread other than the
   * one in KVM_RUN would block the caller until the guest exits.
   */
  registers(id: number): { regs: Regs; sregs: Sregs } {
    const host = this.vcpus[id];
    if (!host) throw new MachineConfigError(`no vCPU ${id}`);
    if (host.reportedState() !== 'paused') throw new MachineConfigError(`vcpu${id} is ${host.reportedState()}; pause the machine first`);
    const vcpu = new Vcpu(id, this.vcpuFds[id]!);
    return { regs: vcpu.getRegs(), sregs: vcpu.getSregs() };
  }

  /** Raw LAPIC page (KVM_GET_LAPIC) of a paused vCPU; same rule as registers(). */
  lapic(id: number): Uint8Array {
    const host = this.vcpus[id];
    if (!host) throw new MachineConfigError(`no vCPU ${id}`);
    if (host.reportedState() !== 'paused') throw new MachineConfigError(`vcpu${id} is ${host.reportedState()}; pause the machine first`);
    return new Vcpu(id, this.vcpuFds[id]!).getLapic();
  }

  /**
   * The interrupt state (xen-hvm: event channels, PIRQs, params, upcall vectors, timers) as
   * plain versioned JSON. Pause the machine first; resolves once every vCPU has paused.
   */
  saveInterruptState(): Promise<MachineInterruptState> {
    return saveInterruptState(this);
  }

  /**
   * Validate `data` (untrusted) and rebuild the interrupt state from it: on a paused machine,
   * or before start(). Throws InterruptStateError (nothing changed) on bad data.
   */
  restoreInterruptState(data: unknown): Promise<void> {
    return restoreInterruptState(this, data);
  }

  sendConsole(bytes: Uint8Array): void {
    this.devices.uart?.receive(bytes);
  }

  private onVcpuMessage(id: number, m: WorkerMessage): void {
    switch (m.type) {
      case 'crash':
        this.logLine(`vcpu${id} crashed: ${m.reason}`);
        for (const line of m.dump.split('\n')) this.logLine(`  ${line}`);
        this.end({ reason: 'crash', status: 255, detail: `vcpu${id}: ${m.reason}` }, 'crashed');
        break;
      case 'system-event':
        this.end({ reason: m.event === 'reset' ? 'reset' : m.event === 'crash' ? 'crash' : 'shutdown', status: m.event === 'crash' ? 255 : 0, detail: m.detail });
        break;
      case 'error':
        this.logLine(`vcpu${id}: ${m.message}`);
        break;
      case 'state':
        if (m.state === 'stopped' && this.vcpus.every((v) => v.state === 'stopped')) {
          this.end({ reason: 'stopped', status: 0, detail: 'all vCPUs stopped' });
        }
        break;
      case 'log':
        this.logLine(`vcpu${id}: ${m.line}`);
        break;
      case 'ready':
        break;
    }
  }

  /** First terminal event wins; stops every vCPU, releases KVM resources, settles result. */
  private end(result: MachineResult, state: MachineState = 'stopped'): void {
    if (this.ended) return;
    this.ended = true;
    this.logLine(`machine ${result.reason}: ${result.detail}`);
    void Promise.all(this.vcpus.map((v) => v.stop())).then(async () => {
      await this.stopDevices();
      try {
        this.io.onEnding?.(this);
      } catch (e) {
        this.logLine(`ending hook failed: ${(e as Error).message}`);
      }
      this.release();
      this.setState(state);
      this.finish(result);
    });
  }

  private async stopDevices(): Promise<void> {
    await Promise.all(this.pciDevices.map((d) => d.stop().catch((e: Error) => this.logLine(`${d.name}: stop failed: ${e.message}`))));
  }

  /** Close every KVM fd this machine opened (also after a failed construction). */
  private release(): void {
    // Only after every worker has exited: closing fds under a running KVM_RUN is unsafe.
    const close = (fd: number | undefined): void => {
      if (fd === undefined) return;
      try {
        nativeKvm().close(fd);
      } catch {
        // already closed
      }
    };
    this.xen?.dispose();
    this.devices?.dispose();
    this.interrupts?.dispose();
    if (this.runDir) rmSync(this.runDir, { recursive: true, force: true });
    this.vcpuKvmStats.forEach((s) => s?.close());
    this.vcpuKvmStats.length = 0;
    this.vcpuFds.forEach(close);
    close(this.ram?.memfd);
    close(this.vm?.fd);
    close(this.kvm.fd);
  }
}

export class ImageReadError extends VmmError {}

function readImage(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ImageReadError(`cannot read the ${what} image ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}; check the path in the profile`, { cause });
  }
}

function validate(c: MachineConfig): void {
  if (!Number.isInteger(c.cpus) || c.cpus < 1 || c.cpus > 254) throw new MachineConfigError(`cpus must be 1..254, got ${c.cpus}`);
  if (!Number.isInteger(c.memoryMiB) || c.memoryMiB < 16 || c.memoryMiB % 2 !== 0) {
    throw new MachineConfigError(`memoryMiB must be an even number of MiB >= 16, got ${c.memoryMiB}`);
  }
}
