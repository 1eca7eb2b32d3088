// The irq-lab PCI device, VMM side (docs/irq-lab.md). The VMM emulates config space, the
// MSI-X table/PBA (bound to an MSI group with bindMsix), MSI (bindMsi) and the BAR0
// registers (registers.ts); the device model runs in its own process (device-link.ts)
// that owns the eventfds (group.notifierFd(i), and the INTx group's trigger/resample pair)
// and writes them directly, so the interrupt layer alone picks irqfd, userspace or
// fallback. Doorbells from the guest (FIRE, BURST, FIRE_RANGE, INTX*, ACK*) and from the
// host (fireFromHost) are forwarded to the process in order, each raise tagged with the
// interrupt kind the function has enabled right now (MSI-X, else MSI, else INTx). They pass
// through CommandFlow (flow.ts): a bounded number in flight, the rest coalesced per vector
// (capped, drops counted) and flushed as the process returns credits, so a guest ringing
// doorbells faster than the process works cannot fill the socket and fail its device.
// INTx: the process drives its own INTx group on the routed GSI; the group is enabled only
// while the function may use INTx (Interrupt Disable clear, MSI and MSI-X off).
// A process that dies or misbehaves marks the device failed (ctx.onFailure); the VM keeps
// running, doorbells are dropped (counted) and restart() starts a fresh process.
// Threading: VM host thread only.
import { VmmError } from '../errors.js';
import type { IntxInterruptGroup, InterruptSourceStats, MsiInterruptGroup } from '../irq/interrupt-manager.js';
import type { PciDeviceConfig } from '../machine/config.js';
import type { PciDevice, PciDeviceContext, PciDeviceState } from '../machine/pci-device.js';
import { bindMsix, pbaMirror } from '../machine/msix-binding.js';
import type { MsiCapability } from '../pci/msi.js';
import type { MsixCapability } from '../pci/msix.js';
import type { PciFunction } from '../pci/pci-function.js';
import { CMD_INTX_DISABLE, REG as PCI_REG, STATUS_INTERRUPT } from '../pci/regs.js';
import { MSIX_CAP } from '../pci/msix.js';
import { nativeEventFds } from '../irq/eventfd.js';
import { DeviceLink, type DeviceStatsResult } from './device-link.js';
import { CommandFlow, type FlowSink } from './flow.js';
import { buildIrqLabFunction, msixLayoutOf } from './function.js';
import { bindMsi, msiPendingMirror } from './msi-binding.js';
import { FDS_PER_MESSAGE, PROTOCOL_VERSION, type Command } from './protocol.js';
import { IrqLabRegisters } from './registers.js';
import { BURST_MAX, BURST_MIN, FEATURE_INTX, FEATURE_MSI, FEATURE_MSIX, RaiseKind, SEQ_PAGE_SIZE } from './regs.js';

export class IrqLabError extends VmmError {}

export type IrqLabConfig = Extract<PciDeviceConfig, { type: 'irq-lab' }>;

/** deviceStats() asks the process for fresh numbers at most this often. */
const STATS_REFRESH_MS = 100;
const MSI_CONTROL = 2;
/** stop() lets queued and in-flight commands finish for at most this long before the final stats. */
const STOP_DRAIN_MS = 2_000;
const DRAIN_POLL_MS = 5;

export class IrqLabDevice implements PciDevice {
  readonly name: string;
  readonly fn: PciFunction;
  readonly regs: IrqLabRegisters;
  readonly msix: MsixCapability;
  readonly msi: MsiCapability | undefined;
  readonly msixGroup: MsiInterruptGroup;
  readonly msiGroup: MsiInterruptGroup | undefined;
  private intxGroup: IntxInterruptGroup | undefined;
  private intxFds: { trigger: number; resample: number } | undefined;
  private intxOpen = false;
  private link: DeviceLink | undefined;
  private _state: PciDeviceState = 'created';
  private lastStats: DeviceStatsResult | undefined;
  private statsInFlight = false;
  private statsAt = 0;
  readonly counters = { droppedCommands: 0, droppedIntx: 0, failures: 0, restarts: 0 };
  /** Commands waiting for the process (flow control); one for the device's lifetime. */
  private readonly flow: CommandFlow;

  constructor(
    config: IrqLabConfig,
    private readonly ctx: PciDeviceContext,
  ) {
    this.name = ctx.name;
    const layout = msixLayoutOf(config);
    const features = FEATURE_MSIX | FEATURE_INTX | (config.msiVectors ? FEATURE_MSI : 0);
    this.regs = new IrqLabRegisters(layout.vectors, features, {
      fire: (v) => this.raise(v, 1),
      burst: (v, n) => this.raise(v, n),
      fireRange: (first, last) => {
        const t = this.target(first);
        if (t && t.kind !== RaiseKind.msi) {
          if (this.flowing()) this.flow.raiseRange(t.kind, first, last);
        } else if (t) for (let v = first; v <= last; v++) this.raise(v, 1); // MSI aliases vectors one by one
      },
      intx: () => this.intxChanged(),
      intxAuto: () => this.intxChanged(),
      ackIntx: () => this.intxChanged(),
      ack: (v) => {
        if (this.flowing()) this.flow.ack(v);
      },
      seqPage: (gpa) => {
        if (this.flowing()) this.flow.seqPage(gpa);
      },
      isRam: (gpa) => ctx.layout.regions.some((r) => gpa >= r.gpa && gpa + SEQ_PAGE_SIZE <= r.gpa + r.size),
    });
    const sink: FlowSink = {
      inFlight: () => this.link?.inFlight ?? 0,
      raisesInFlight: () => this.link?.raisesInFlight ?? 0,
      send: (c) => this.link?.send(c) ?? false,
    };
    this.flow = new CommandFlow(sink, () => ({ manual: this.regs.intxManualLevel, auto: this.regs.intxAutoItems }));
    const built = buildIrqLabFunction({
      name: this.name, msix: layout, msiVectors: config.msiVectors, registers: this.regs, sender: { send: () => {} },
    });
    this.fn = built.fn;
    this.msix = built.msix;
    this.msi = built.msi;
    this.msixGroup = ctx.interrupts.createMsiGroup({ device: this.name, vectors: layout.vectors, onPending: pbaMirror(() => this.msix) });
    bindMsix(this.msix, this.msixGroup, ctx.xenMsi && { msi: ctx.xenMsi, device: ctx.name });
    if (this.msi) {
      const msi = this.msi;
      this.msiGroup = ctx.interrupts.createMsiGroup({ device: `${this.name}/msi`, vectors: msi.capable, onPending: msiPendingMirror(this.fn.config, () => msi) });
      bindMsi(msi, this.msiGroup, ctx.xenMsi && { msi: ctx.xenMsi, device: ctx.name, cfg: this.fn.config });
    }
    const gate = { afterWrite: () => this.updateIntxGate() };
    this.fn.config.watch(PCI_REG.command, 2, gate);
    this.fn.config.watch(this.msix.offset + MSIX_CAP.control, 2, gate);
    if (this.msi) this.fn.config.watch(this.msi.offset + MSI_CONTROL, 2, gate);
  }

  get state(): PciDeviceState {
    return this._state;
  }
  /** The device process's pid while it runs (tests, the UI). */
  get pid(): number | undefined {
    return this.link?.isUp ? this.link.pid : undefined;
  }

  async start(): Promise<void> {
    if (this._state !== 'created') throw new IrqLabError(`${this.name}: cannot start a device that is ${this._state}`);
    const gsi = this.ctx.intxGsi?.();
    if (gsi !== undefined) {
      const g = this.ctx.interrupts.createIntxGroup({ device: `${this.name}/intx`, gsi, pin: this.fn.interruptPin });
      this.intxGroup = g;
      this.intxFds = { trigger: g.notifierFd(0), resample: g.resampleFd() };
      if (this.fn.config.get8(PCI_REG.interruptLine) === 0) this.fn.config.set8(PCI_REG.interruptLine, gsi);
      this.updateIntxGate();
    } else {
      this.ctx.log('no INTx route; INTx raises are dropped');
    }
    await this.connect();
    this._state = 'running';
  }

  async stop(): Promise<void> {
    if (this._state === 'stopped') return;
    const wasRunning = this._state === 'running';
    this._state = 'stopped';
    // Keep the final counters for end-of-run statistics (vmm run --stats samples after stop),
    // after what was queued or in flight had a moment to finish.
    if (wasRunning && this.link) {
      await this.drain(this.link, STOP_DRAIN_MS);
      this.lastStats = await this.link.queryStats().catch(() => this.lastStats);
    }
    await this.link?.stop();
    this.flow.discard(); // whatever is left is dropped, and counted
  }

  async restart(): Promise<void> {
    if (this._state === 'stopped' || this._state === 'created') throw new IrqLabError(`${this.name}: cannot restart a device that is ${this._state}`);
    await this.link?.stop();
    await this.connect();
    this._state = 'running';
    this.counters.restarts++;
    this.ctx.log(`device process restarted (pid ${this.link?.pid})`);
  }

  /** Raise vector `v` `count` times from the host, as the BURST register would. */
  fireFromHost(v: number, count = 1): void {
    if (this._state !== 'running') throw new IrqLabError(`${this.name}: the device is ${this._state}`);
    if (!Number.isInteger(v) || v < 0 || v >= this.regs.numVectors) throw new IrqLabError(`${this.name}: no vector ${v} (the device has ${this.regs.numVectors})`);
    if (!Number.isInteger(count) || count < BURST_MIN || count > BURST_MAX) throw new IrqLabError(`${this.name}: burst count ${count} is not ${BURST_MIN}..${BURST_MAX}`);
    this.regs.countFired(count);
    this.raise(v, count);
  }

  /** The device process's own counters, per-vector raise counts and latency histogram. */
  queryStats(): Promise<DeviceStatsResult> {
    if (!this.link) return Promise.reject(new IrqLabError(`${this.name}: the device is ${this._state}`));
    return this.link.queryStats();
  }

  /** Kill the device process (tests and the UI's fault injection); the device goes failed. */
  killProcess(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.link?.kill(signal);
  }

  /**
   * The groups' rows, with `total` raised to the device process's own per-vector count: its
   * irqfd writes reach KVM without the VMM seeing them, so the group alone would show zero
   * for every vector on the irqfd path. The process counts every raise (including those the
   * VMM reads on the userspace path), so its count is the total.
   */
  interruptStats(): InterruptSourceStats[] {
    this.refreshStats();
    const raised = this.lastStats?.perVector;
    const withRaised = (rows: InterruptSourceStats[]): InterruptSourceStats[] =>
      !raised ? rows : rows.map((r) => {
        const n = r.source.vector === undefined ? undefined : raised[r.source.vector];
        return n === undefined || n <= r.total ? r : { ...r, total: n };
      });
    // MSI-X only: with MSI the process's vector index is folded onto the allocated vectors.
    const msix = this.msixGroup.stats();
    return [...(this.msix.enabled ? withRaised(msix) : msix), ...(this.msiGroup?.stats() ?? []), ...(this.intxGroup?.stats() ?? [])];
  }

  deviceStats(): Record<string, number | number[]> {
    this.refreshStats();
    const s = this.lastStats;
    const r = this.regs.stats;
    const f = this.flow.counters;
    return {
      requested: this.regs.firedCount, acked: this.regs.ackedCount, fired: s?.fired ?? 0, deviceAcked: s?.acked ?? 0,
      paired: s?.paired ?? 0, unpaired: s?.unpaired ?? 0, droppedTimestamps: s?.dropped ?? 0, raiseErrors: s?.raiseErrors ?? 0,
      intxSignals: s?.intxSignals ?? 0, resamples: s?.resamples ?? 0, badWrites: r.badWrites, badAccesses: r.badAccesses,
      droppedCommands: this.counters.droppedCommands + f.unsent, droppedIntx: this.counters.droppedIntx, failures: this.counters.failures,
      restarts: this.counters.restarts,
      inFlight: this.link?.isUp ? this.link.inFlight : 0, raisesInFlight: this.link?.isUp ? this.link.raisesInFlight : 0,
      queuedRaises: this.flow.queuedRaises, queuedAcks: this.flow.queuedAcks, coalesced: f.coalesced, deferred: f.deferred,
      droppedRaises: f.droppedRaises, droppedAcks: f.droppedAcks, collapsedSeqPages: f.collapsedSeqPages,
      latencyBuckets: s?.buckets ?? [],
    };
  }

  // ---- process link -----------------------------------------------------------------------

  private async connect(): Promise<void> {
    const link = await DeviceLink.start(this.name, this.setupCommands(), (reason) => this.linkDown(link, reason));
    this.link = link;
    this.lastStats = undefined;
    link.onCredit = () => this.flow.flush();
    // A fresh process knows no INTx work: tell it the level the guest's registers hold.
    this.flow.discard();
    this.flow.resetIntx();
    if (this.intxFds) this.flow.intxChanged();
  }

  /** Wait (bounded) until nothing is queued or in flight. */
  private async drain(link: DeviceLink, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (link.isUp && (!this.flow.idle || link.inFlight > 0) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
  }

  private linkDown(link: DeviceLink | undefined, reason: string): void {
    if (link === undefined || link !== this.link || this._state !== 'running') return;
    this.flow.discard(); // queued raises and ACKs are lost with the process: counted as dropped
    this._state = 'failed';
    this.counters.failures++;
    this.ctx.onFailure(reason);
  }

  /** Everything a fresh process needs: sizes, eventfds, guest RAM, and the guest-visible state. */
  private setupCommands(): Command[] {
    const out: Command[] = [{
      op: 'setup', version: PROTOCOL_VERSION, msixVectors: this.msixGroup.length, msiVectors: this.msiGroup?.length ?? 0, intx: !!this.intxFds,
    }];
    const fdsOf = (g: MsiInterruptGroup, op: 'msix-fds' | 'msi-fds'): void => {
      for (let first = 0; first < g.length; first += FDS_PER_MESSAGE) {
        const fds = Array.from({ length: Math.min(FDS_PER_MESSAGE, g.length - first) }, (_, i) => g.notifierFd(first + i));
        out.push({ op, first, fds });
      }
    };
    fdsOf(this.msixGroup, 'msix-fds');
    if (this.msiGroup) fdsOf(this.msiGroup, 'msi-fds');
    if (this.intxFds) out.push({ op: 'intx-fds', ...this.intxFds });
    const { ram, layout } = this.ctx;
    const regions = layout.regions.map((r) => ({ guestAddr: BigInt(r.gpa), size: BigInt(r.size), userAddr: ram.hva + BigInt(r.offset), mmapOffset: BigInt(r.offset) }));
    out.push({ op: 'mem-table', regions, fds: regions.map(() => ram.memfd) });
    if (this.regs.seqPage !== 0) out.push({ op: 'seq-page', gpa: this.regs.seqPage });
    return out; // the INTx level follows through the flow once the process is up (connect)
  }

  /** Doorbells reach the flow only while the device runs; otherwise they are dropped (counted). */
  private flowing(): boolean {
    if (this._state === 'running' && this.link?.isUp) return true;
    this.counters.droppedCommands++;
    return false;
  }

  private refreshStats(): void {
    const now = Date.now();
    if (this.statsInFlight || this._state !== 'running' || !this.link || now - this.statsAt < STATS_REFRESH_MS) return;
    this.statsInFlight = true;
    this.statsAt = now;
    this.link.queryStats().then(
      (s) => (this.lastStats = s),
      () => undefined, // a dead link reports itself through linkDown
    ).finally(() => (this.statsInFlight = false));
  }

  // ---- raises and INTx --------------------------------------------------------------------

  /** Where a raise of vector `v` goes now; null when it cannot go anywhere (counted). */
  private target(v: number): { kind: RaiseKind; vector: number } | null {
    if (this.msix.enabled) return { kind: RaiseKind.msix, vector: v };
    if (this.msi?.enabled) return { kind: RaiseKind.msi, vector: v & (this.msi.allocated - 1) };
    if (this.intxFds) return { kind: RaiseKind.intx, vector: v };
    this.counters.droppedIntx++;
    return null;
  }

  private raise(v: number, count: number): void {
    const t = this.target(v);
    if (t && this.flowing()) this.flow.raise(t.kind, t.vector, count);
  }

  /** INTX / INTX_AUTO / ACK_INTX changed the registers' level: the flow tells the process. */
  private intxChanged(): void {
    const status = this.fn.config.get16(PCI_REG.status);
    this.fn.config.set16(PCI_REG.status, this.regs.intxLevel ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
    if (!this.intxFds) {
      this.counters.droppedIntx++;
      return;
    }
    if (this.flowing()) this.flow.intxChanged();
  }

  /** INTx may reach the interrupt controller only while disable is clear and MSI/MSI-X are off. */
  private updateIntxGate(): void {
    const g = this.intxGroup;
    if (!g) return;
    const open = (this.fn.config.get16(PCI_REG.command) & CMD_INTX_DISABLE) === 0 && !this.msix.enabled && !this.msi?.enabled;
    if (open === this.intxOpen) return;
    this.intxOpen = open;
    if (!open) return g.disable();
    g.enable();
    // Let the process re-check its level: it re-signals if it still has work outstanding.
    if (this.intxFds) nativeEventFds().write(this.intxFds.resample);
  }
}
