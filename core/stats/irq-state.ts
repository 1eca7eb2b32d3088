// One consistent snapshot of a machine's interrupt controllers: per vCPU the decoded LAPIC
// (KVM_GET_LAPIC), the IOAPIC (in-kernel: KVM_GET_IRQCHIP; split: our userspace IOAPIC),
// the in-kernel PICs, the GSI routing summary and each PCI device's live MSI-X entries.
// vCPU ioctls are only safe while the vCPU is out of KVM_RUN (otherwise the host thread
// blocks until the guest exits), so a running machine is paused, waited for without
// blocking, read in one synchronous step and resumed. A machine the user paused stays
// paused. Snapshots of one machine are serialized so one never resumes under another.
import { VmmError } from '../errors.js';
import * as K from '../kvm/constants.js';
import type { Machine } from '../machine/machine.js';
import { decodeMsi, type DecodedMsi } from '../pci/msi-decode.js';
import type { RouterStats } from '../irq/gsi-router.js';
import { decodeLapic, type LapicState } from './lapic-decode.js';
import { decodeKvmIoapic, decodeKvmPic, type IoapicState, type PicState } from './kvm-irqchip-decode.js';

export class IrqStateError extends VmmError {}

/** How long the vCPUs get to leave KVM_RUN after a pause request. */
export const PAUSE_TIMEOUT_MS = 2000;
const PAUSE_POLL_MS = 1;

export interface MsixEntryState {
  vector: number;
  addressLo: number;
  addressHi: number;
  data: number;
  /** Effectively masked: MSI-X disabled, Function Mask, or the entry's Mask bit. */
  masked: boolean;
  pending: boolean;
  decoded: DecodedMsi;
}

export interface PciMsixState {
  name: string;
  bdf: string;
  enabled: boolean;
  functionMasked: boolean;
  tableSize: number;
  /** Entries that are unmasked or pending; the rest are left out. */
  entries: MsixEntryState[];
}

export interface InterruptState {
  t: number;
  name: string;
  irqchip: 'kernel' | 'split';
  /** The machine's state when the snapshot was requested (it is running again if it was). */
  machineState: string;
  vcpus: { id: number; lapic: LapicState }[];
  ioapic?: IoapicState;
  pics?: PicState[];
  routing?: RouterStats;
  pci: PciMsixState[];
}

const chains = new WeakMap<Machine, Promise<unknown>>();

export function interruptState(m: Machine): Promise<InterruptState> {
  const prev = chains.get(m) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(() => snapshotPaused(m));
  chains.set(m, next);
  return next;
}

async function snapshotPaused(m: Machine): Promise<InterruptState> {
  const initial = m.state;
  if (initial !== 'running' && initial !== 'paused') throw new IrqStateError(`${m.config.name} is ${initial}; interrupt state needs a running or paused machine`);
  const weResume = initial === 'running';
  if (weResume) m.pause();
  try {
    await allVcpusPaused(m);
    if (m.state !== 'paused') throw new IrqStateError(`${m.config.name} became ${m.state} while pausing for the snapshot`);
    return read(m, initial); // synchronous: nothing can resume or stop the vCPUs meanwhile
  } finally {
    if (weResume && m.state === 'paused') m.resume();
  }
}

async function allVcpusPaused(m: Machine): Promise<void> {
  const deadline = Date.now() + PAUSE_TIMEOUT_MS;
  for (;;) {
    const states = m.vcpus.map((v) => v.reportedState());
    if (states.every((s) => s === 'paused')) return;
    if (states.some((s) => s === 'stopped' || s === 'crashed')) throw new IrqStateError(`a vCPU stopped while pausing for the snapshot (${states.join(', ')})`);
    if (Date.now() > deadline) throw new IrqStateError(`vCPUs did not pause within ${PAUSE_TIMEOUT_MS} ms (${states.join(', ')})`);
    await new Promise((r) => setTimeout(r, PAUSE_POLL_MS));
  }
}

function read(m: Machine, machineState: string): InterruptState {
  const kernel = m.irqchip.mode === 'kernel';
  return {
    t: Date.now(),
    name: m.config.name,
    irqchip: m.irqchip.mode,
    machineState,
    vcpus: m.vcpus.map((v) => ({ id: v.id, lapic: decodeLapic(m.lapic(v.id)) })),
    ioapic: kernel ? decodeKvmIoapic(m.vm.getIrqchip(K.KVM_IRQCHIP_IOAPIC)) : userspaceIoapic(m),
    pics: kernel ? [decodeKvmPic(m.vm.getIrqchip(K.KVM_IRQCHIP_PIC_MASTER), 0), decodeKvmPic(m.vm.getIrqchip(K.KVM_IRQCHIP_PIC_SLAVE), 1)] : undefined,
    routing: m.interrupts?.routerStats(),
    pci: pciMsix(m),
  };
}

function userspaceIoapic(m: Machine): IoapicState | undefined {
  const snap = m.irqchip.ioapic?.snapshot();
  return snap && { source: 'userspace', id: snap.id, ioregsel: snap.ioregsel, pins: snap.pins };
}

function pciMsix(m: Machine): PciMsixState[] {
  const where = new Map(m.pci.bridge.list().map((e) => [e.fn, e.bdf]));
  const out: PciMsixState[] = [];
  for (const d of m.pciDevices) {
    const x = d.fn.msix;
    if (!x) continue;
    const entries: MsixEntryState[] = [];
    for (let v = 0; v < x.vectors; v++) {
      const masked = x.isMasked(v);
      const pending = x.isPending(v);
      if (masked && !pending) continue;
      const msg = x.message(v);
      entries.push({ vector: v, addressLo: msg.addressLo >>> 0, addressHi: msg.addressHi >>> 0, data: msg.data >>> 0, masked, pending, decoded: decodeMsi(msg) });
    }
    out.push({ name: d.name, bdf: where.get(d.fn) ?? '', enabled: x.enabled, functionMasked: x.functionMasked, tableSize: x.vectors, entries });
  }
  return out;
}
