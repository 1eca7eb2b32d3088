// MachineController: every control a user has over one running Machine, in one place, for
// the control socket (server.ts) and the app service's VM host process. Views come back as
// the contract's types (core/api/contract.ts); actions go through the same paths the guest
// or the VMM itself uses: a host-side mask is a write to the MSI-X table's Vector Control
// (so pending bits and delivery on unmask are exact), a fire is the irq-lab device's
// fireFromHost, Xen actions are the event-channel core's own operations (host-actions.ts).
// Every argument is validated here; anything wrong throws a ControllerError that names the
// device, vector or port (and Xen's errno where one applies). Host thread only.
// Snapshots that pause the VM (irqState, saveInterruptState) and restores run one at a time
// per machine, so one never resumes the VM under another.
import type {
  MsixTableView, PciDeviceRef, RoutingTableView, XenPirqView, XenPortsView,
} from '../api/contract.js';
import { VmmError } from '../errors.js';
import type { InterruptSourceStats } from '../irq/interrupt-manager.js';
import { routingTableView } from '../irq/routing-view.js';
import { IrqLabDevice } from '../irq-lab/device.js';
import { isPciDevice } from '../machine/config.js';
import type { MachineInterruptState } from '../machine/interrupt-snapshot.js';
import type { Machine, MachineState } from '../machine/machine.js';
import type { PciDevice } from '../machine/pci-device.js';
import { MSIX_MAX_VECTORS, MSIX_VECTOR_MASKED, type MsixCapability } from '../pci/msix.js';
import { msixTableView } from '../pci/msix-view.js';
import { interruptState, type InterruptState } from '../stats/irq-state.js';
import { sampleMachine, type MachineStats } from '../stats/machine-stats.js';
import { XenHostActions, type XenSendResult } from '../xen/host-actions.js';
import { pirqOfMsi } from '../xen/pirq/msi-pirq.js';

export class ControllerError extends VmmError {}

/** Largest window msixTable returns at once (a whole 2048-entry table). */
export const MAX_MSIX_WINDOW = MSIX_MAX_VECTORS;

const pausing = new WeakMap<Machine, Promise<unknown>>();

/** Run `fn` after every earlier pausing operation on `m` has settled. */
function oneAtATime<T>(m: Machine, fn: () => Promise<T>): Promise<T> {
  const next = (pausing.get(m) ?? Promise.resolve()).catch(() => undefined).then(fn);
  pausing.set(m, next);
  return next;
}

interface Found {
  dev: PciDevice;
  bdf: string;
  type: string;
}

export class MachineController {
  constructor(readonly machine: Machine) {}

  stats(): MachineStats {
    return sampleMachine(this.machine);
  }

  state(): { name: string; state: MachineState } {
    return { name: this.machine.config.name, state: this.machine.state };
  }

  pause(): { state: MachineState } {
    this.machine.pause();
    return { state: this.machine.state };
  }

  resume(): { state: MachineState } {
    this.machine.resume();
    return { state: this.machine.state };
  }

  /** Ask the VM to stop; machine.result settles when it has. */
  stop(): { state: 'stopping' } {
    void this.machine.stop();
    return { state: 'stopping' };
  }

  irqState(): Promise<InterruptState> {
    return oneAtATime(this.machine, () => interruptState(this.machine));
  }

  /**
   * The interrupt state (xen-hvm only: event channels, PIRQs, HVM params, upcall vectors,
   * timers) as versioned JSON for restoreInterruptState. A running VM is paused for the
   * save and resumed; a paused one stays paused.
   */
  async saveInterruptState(): Promise<MachineInterruptState> {
    const m = this.machine;
    this.snapshotable('save');
    this.live('save interrupt state');
    return oneAtATime(m, async () => {
      const weResume = m.state === 'running';
      if (weResume) m.pause();
      try {
        return await this.wrapAsync(() => m.saveInterruptState());
      } finally {
        // m.state is a getter; TS narrowed it to 'running' above.
        if (weResume && (m.state as MachineState) === 'paused') m.resume();
      }
    });
  }

  /**
   * Rebuild the interrupt state from a saveInterruptState snapshot (untrusted: validated,
   * and nothing changes if it is refused). The VM must be paused, so the restore happens
   * at a point the user chose; it stays paused afterwards.
   */
  async restoreInterruptState(data: unknown): Promise<void> {
    const m = this.machine;
    this.snapshotable('restore');
    if (m.state !== 'paused') throw new ControllerError(`cannot restore interrupt state: ${m.config.name} is ${m.state}; pause it first`);
    return oneAtATime(m, () => this.wrapAsync(() => m.restoreInterruptState(data)));
  }

  sendConsole(data: Uint8Array | string): void {
    this.live('send console input');
    if (!this.machine.devices.uart) throw new ControllerError(`${this.machine.config.name} has no serial port; add a uart device to the profile`);
    this.machine.sendConsole(typeof data === 'string' ? new TextEncoder().encode(data) : data);
  }

  pciDevices(): PciDeviceRef[] {
    return this.devices().map(({ dev, bdf, type }) => ({ name: dev.name, bdf, type, msixVectors: dev.fn.msix?.vectors ?? 0 }));
  }

  async msixTable(device: string, first = 0, count = 256): Promise<MsixTableView> {
    const { dev, bdf } = this.find(device);
    const msix = this.msixOf(dev);
    this.index('first', first, msix.vectors, dev.name);
    if (!Number.isInteger(count) || count < 1 || count > MAX_MSIX_WINDOW) {
      throw new ControllerError(`${dev.name}: count ${count} is not 1..${MAX_MSIX_WINDOW}`);
    }
    const rows = new Map<number, InterruptSourceStats>();
    for (const r of dev.interruptStats()) if (r.source.device === dev.name && r.source.vector !== undefined) rows.set(r.source.vector, r);
    const pirq = this.machine.pirq;
    return msixTableView({
      device: dev.name,
      bdf,
      msix,
      row: (v) => rows.get(v),
      pirqOf: pirq && ((msg) => {
        const p = pirqOfMsi(msg);
        return p < pirq.nrPirqs ? p : 0;
      }),
      canFire: dev instanceof IrqLabDevice,
    }, first, count);
  }

  /** Mask or unmask one vector exactly as a guest write to its Vector Control would. */
  setVectorMask(device: string, vector: number, masked: boolean): void {
    this.live('mask or unmask a vector');
    const { dev } = this.find(device);
    const msix = this.msixOf(dev);
    this.index('vector', vector, msix.vectors, dev.name);
    if (typeof masked !== 'boolean') throw new ControllerError(`${dev.name}: masked must be true or false`);
    this.wrap(() => msix.hostWrite(vector, 'vectorControl', masked ? MSIX_VECTOR_MASKED : 0));
  }

  /** Raise a vector `count` times from the host (irq-lab devices only). */
  fireVector(device: string, vector: number, count = 1): void {
    this.live('fire a vector');
    const { dev } = this.find(device);
    if (!(dev instanceof IrqLabDevice)) throw new ControllerError(`${dev.name} cannot fire vectors from the host; only irq-lab devices can`);
    this.index('vector', vector, dev.msix.vectors, dev.name);
    this.wrap(() => dev.fireFromHost(vector, count));
  }

  routingTable(): RoutingTableView {
    const m = this.machine;
    const bdfs = new Map(this.devices().map((f) => [f.dev.name, f.bdf]));
    return routingTableView({ router: m.interrupts.router, split: m.irqchip.mode === 'split', bdfOf: (d) => bdfs.get(d) });
  }

  xenPorts(): XenPortsView {
    return this.xen().ports();
  }

  xenPirqs(): XenPirqView[] {
    return this.xen().pirqs();
  }

  xenSend(port: number): XenSendResult {
    this.live('send an event');
    const x = this.xen();
    return this.wrap(() => x.send(port));
  }

  xenBindVcpu(port: number, vcpu: number): void {
    this.live('move a port');
    const x = this.xen();
    this.wrap(() => x.bindVcpu(port, vcpu));
  }

  xenSetPortMask(port: number, masked: boolean): void {
    this.live('mask or unmask a port');
    if (typeof masked !== 'boolean') throw new ControllerError(`port ${port}: masked must be true or false`);
    const x = this.xen();
    this.wrap(() => x.setMask(port, masked));
  }

  // ---- helpers ------------------------------------------------------------------------------

  private devices(): Found[] {
    const m = this.machine;
    const where = new Map(m.pci.bridge.list().map((e) => [e.fn, e.bdf]));
    const configs = m.config.devices.filter(isPciDevice);
    return m.pciDevices.map((dev, i) => ({ dev, bdf: where.get(dev.fn) ?? '', type: configs[i]?.type ?? dev.name.replace(/\d+$/, '') }));
  }

  /** A PCI device by name ("irq-lab0") or address ("00:03.0"). */
  private find(device: string): Found {
    if (typeof device !== 'string' || device === '') throw new ControllerError('name a PCI device (e.g. irq-lab0)');
    const all = this.devices();
    const f = all.find((d) => d.dev.name === device || d.bdf === device);
    if (!f) throw new ControllerError(`no PCI device "${device}"; this VM has ${all.map((d) => d.dev.name).join(', ') || 'none'}`);
    return f;
  }

  private msixOf(dev: PciDevice): MsixCapability {
    const msix = dev.fn.msix;
    if (!msix) throw new ControllerError(`${dev.name} has no MSI-X capability`);
    return msix;
  }

  private index(what: string, v: number, size: number, device: string): void {
    if (!Number.isInteger(v) || v < 0 || v >= size) throw new ControllerError(`${device}: ${what} ${v} is out of range (the MSI-X table has vectors 0..${size - 1})`);
  }

  private xen(): XenHostActions {
    const { xen } = this.machine;
    if (!xen) throw new ControllerError(`${this.machine.config.name} is not a Xen VM (platform ${this.machine.config.platform ?? 'kvm'}); event channels and PIRQs exist only with platform xen-hvm`);
    return new XenHostActions(xen.events, xen.pirq);
  }

  /** Only xen-hvm machines have interrupt state to save (core/machine/interrupt-snapshot.ts). */
  private snapshotable(what: 'save' | 'restore'): void {
    const m = this.machine;
    if (!m.xen) throw new ControllerError(`cannot ${what} interrupt state: ${m.config.name} is platform ${m.config.platform ?? 'kvm'}, and only xen-hvm VMs have interrupt state to save (event channels, PIRQs); use irq-state to read the LAPIC/IOAPIC/MSI-X state`);
  }

  /** Actions need a machine whose KVM resources are still there. */
  private live(what: string): void {
    const s = this.machine.state;
    if (s !== 'running' && s !== 'paused') throw new ControllerError(`cannot ${what}: ${this.machine.config.name} is ${s}`);
  }

  /** Lower layers throw their own VmmErrors; the controller's callers see ControllerErrors. */
  private wrap<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw asControllerError(e);
    }
  }

  private async wrapAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw asControllerError(e);
    }
  }
}

function asControllerError(e: unknown): unknown {
  if (e instanceof ControllerError || !(e instanceof VmmError)) return e;
  return new ControllerError(e.message, { cause: e });
}
