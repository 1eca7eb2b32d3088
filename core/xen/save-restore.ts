// Save and restore of a Xen HVM domain's interrupt state (interrupt-state.ts is the format).
//
// captureXen() reads primary data only. restoreXen() runs on the host thread while every
// vCPU is paused (or before they first run), in three steps:
//   1. check: the snapshot is validated against this machine (vCPU count, nr_pirqs, every
//      GPA is RAM with Xen's alignment rules, port rows consistent: VIRQ/PIRQ numbers in
//      range and bound once, interdomain peers pointing back, ports under the ABI's limit).
//      Any problem throws XenStateError and nothing has changed.
//   2. wipe: timers stopped, HVM params and the domain words cleared (XenState.clearDomain),
//      so what follows starts from a new domain, as on a fresh machine.
//   3. rebuild, each derived structure recomputed from the primary data (seed 003: "rebuilt
//      from it on load", never copied): the port table and its VIRQ/PIRQ → port maps, 2L or
//      FIFO registration and the FIFO private tails (EventChannels.restore walks the guest's
//      queues); port → vCPU delivery (rows); the PIRQ table, its GSI → PIRQ map, MSI
//      provenance resynced with the devices and GSI handoffs (PirqLayer.restore); the
//      callback route from CALLBACK_IRQ and the per-vCPU vectors, and the callback line's
//      level from vCPU0's evtchn_upcall_pending in guest RAM; timers from time left.
// Nothing is injected on restore: pending bits, upcall_pending and the LAPIC are guest /
// vCPU state that a restore of this kind does not touch, so no event is duplicated.
// KVM routes need no rebuild: without in-kernel Xen no route ever carries a PIRQ-form
// vector (the routing layer keeps them on the userspace path by message form).
import type { EventChannels } from './evtchn/evtchn.js';
import { NR_2L_PORTS_32, NR_2L_PORTS_64, NR_VIRQS, PortState } from './evtchn/port-table.js';
import { CONTROL_BLOCK_SIZE } from './evtchn/fifo.js';
import { virqSlot } from './evtchn/virq.js';
import { HVM_PARAM_CALLBACK_IRQ, resolveCallback, routeCallback } from './hypercalls/hvm-op.js';
import type { XenDomain } from './hypercalls/domain.js';
import { parseXenInterruptState, XEN_INTERRUPT_STATE_FORMAT, XEN_INTERRUPT_STATE_VERSION, XenStateError, type XenInterruptState } from './interrupt-state.js';
import type { PirqLayer } from './pirq/pirq.js';
import { writeVcpuTime } from './pvclock.js';
import type { TimersLeft, XenTimers } from './timers.js';
import { CallbackKind, D, PAGE_SIZE, V, VCPU_INFO_SIZE, type XenState } from './xen-state.js';

/** What save/restore acts on (XenPlatform). */
export interface XenSaveTarget extends Pick<XenDomain, 'gsiCount' | 'intxGsi' | 'callbackChanged'> {
  readonly state: XenState;
  readonly params: Map<number, bigint>;
  readonly timers: XenTimers;
  readonly events: EventChannels;
  readonly pirq: PirqLayer;
}

export function captureXen(t: XenSaveTarget): XenInterruptState {
  const s = t.state;
  const str = (n: bigint | undefined): string | undefined => (n === undefined ? undefined : n.toString());
  return {
    format: XEN_INTERRUPT_STATE_FORMAT,
    version: XEN_INTERRUPT_STATE_VERSION,
    cpus: s.cpus,
    longMode: s.longMode(),
    params: [...t.params].sort((a, b) => a[0] - b[0]).map(([i, v]) => [i, v.toString()] as [number, string]),
    upcallVectors: Array.from({ length: s.cpus }, (_, v) => s.upcallVector(v)),
    timers: Array.from({ length: s.cpus }, (_, v) => {
      const r = t.timers.remaining(v);
      return JSON.parse(JSON.stringify({ singleshotInNs: str(r.singleshotInNs), periodNs: str(r.periodNs), periodicInNs: str(r.periodicInNs) })) as XenInterruptState['timers'][number];
    }),
    evtchn: t.events.state(),
    pirq: t.pirq.state(),
  };
}

/** Validate `data` (untrusted) and rebuild the domain's interrupt state from it. */
export function restoreXen(t: XenSaveTarget, data: unknown): void {
  const snap = parseXenInterruptState(data);
  check(t, snap);
  const s = t.state;
  // PIRQ table first: it validates everything it needs before changing anything.
  try {
    t.pirq.restore(snap.pirq);
  } catch (cause) {
    throw new XenStateError(`Xen interrupt state has a bad PIRQ table: ${(cause as Error).message}`, { cause });
  }
  for (let v = 0; v < s.cpus; v++) t.timers.rearm(v, {});
  t.params.clear();
  s.clearDomain();

  s.set(D.LONG_MODE, snap.longMode ? 1 : 0);
  const sh = snap.evtchn.sharedInfo;
  if (sh) s.set(D.SHINFO_GFN, sh.gpa / PAGE_SIZE);
  snap.evtchn.vcpuInfo.forEach((gpa, v) => gpa !== null && s.setVcpuInfo(v, gpa));
  let perVcpu = 0;
  snap.upcallVectors.forEach((vec, v) => {
    s.set(s.vcpuWord(v, V.UPCALL_VECTOR), vec);
    if (vec) perVcpu++;
  });
  s.set(D.PERVCPU_VECTORS, perVcpu);
  for (const [i, v] of snap.params) t.params.set(i, BigInt(v));
  t.events.restore(snap.evtchn);
  if (!sh) t.events.sharedInfo.setLongMode(snap.longMode);

  const cb = routeCallback(t, t.params.get(HVM_PARAM_CALLBACK_IRQ) ?? 0n);
  if (cb.kind === CallbackKind.Gsi) {
    s.set(D.CALLBACK_LEVEL, s.upcallPending(0) ? 1 : 0);
    t.callbackChanged();
  }
  snap.timers.forEach((tm, v) => t.timers.rearm(v, timersLeft(tm)));
  for (let v = 0; v < s.cpus; v++) {
    writeVcpuTime(s, v); // pvclock from the domain's calibration (derived, not saved)
    s.wake(v); // a vCPU in SCHEDOP_block/poll re-checks
  }
}

function timersLeft(tm: XenInterruptState['timers'][number]): TimersLeft {
  const r: TimersLeft = {};
  if (tm.singleshotInNs !== undefined) r.singleshotInNs = BigInt(tm.singleshotInNs);
  if (tm.periodNs !== undefined) r.periodNs = BigInt(tm.periodNs);
  if (tm.periodicInNs !== undefined) r.periodicInNs = BigInt(tm.periodicInNs);
  return r;
}

/** Everything that needs this machine to check; throws XenStateError, changes nothing. */
function check(t: XenSaveTarget, snap: XenInterruptState): void {
  const fail = (what: string): never => {
    throw new XenStateError(`Xen interrupt state does not fit this machine: ${what}`);
  };
  const cpus = t.state.cpus;
  const mem = t.state.mem;
  if (snap.cpus !== cpus) fail(`saved with ${snap.cpus} vCPUs, this machine has ${cpus}`);
  if (snap.pirq.nrPirqs !== t.pirq.nrPirqs) fail(`nr_pirqs ${snap.pirq.nrPirqs}, this machine has ${t.pirq.nrPirqs}`);
  for (const [name, list] of [['upcallVectors', snap.upcallVectors], ['timers', snap.timers], ['evtchn.vcpuInfo', snap.evtchn.vcpuInfo]] as const) {
    if (list.length > cpus) fail(`${name} has ${list.length} entries for ${cpus} vCPUs`);
  }
  if (new Set(snap.params.map(([i]) => i)).size !== snap.params.length) fail('an HVM param appears twice');
  const e = snap.evtchn;
  if (e.sharedInfo && (e.sharedInfo.gpa % PAGE_SIZE !== 0 || !mem.isRam(e.sharedInfo.gpa, PAGE_SIZE))) fail(`shared_info 0x${e.sharedInfo.gpa.toString(16)} is not a RAM page`);
  e.vcpuInfo.forEach((gpa, v) => {
    if (gpa !== null && (gpa % 8 !== 0 || (gpa % PAGE_SIZE) + VCPU_INFO_SIZE > PAGE_SIZE || !mem.isRam(gpa, VCPU_INFO_SIZE))) fail(`vcpu_info of vCPU ${v} at 0x${gpa.toString(16)} is not aligned RAM`);
  });
  const fifo = e.abi === 'fifo';
  if (fifo !== (e.fifo !== null)) fail(`ABI ${e.abi} with${e.fifo ? '' : 'out'} a FIFO registration`);
  if (e.fifo) {
    if (e.fifo.controlBlocks.length > cpus || !e.fifo.controlBlocks.some((g) => g !== null)) fail('FIFO control blocks do not match the vCPUs');
    e.fifo.controlBlocks.forEach((gpa, v) => {
      if (gpa !== null && (gpa % 8 !== 0 || (gpa % PAGE_SIZE) + CONTROL_BLOCK_SIZE > PAGE_SIZE || !mem.isRam(gpa, CONTROL_BLOCK_SIZE))) fail(`FIFO control block of vCPU ${v} is not aligned RAM`);
    });
    e.fifo.arrayPages.forEach((gpa, i) => {
      if (gpa % PAGE_SIZE !== 0 || !mem.isRam(gpa, PAGE_SIZE)) fail(`FIFO event array page ${i} is not a RAM page`);
    });
  }
  checkPorts(t, snap, fail);
  const cbGsi = callbackGsiOf(t, snap);
  if (cbGsi >= 0 && snap.pirq.pirqs.some((p) => p.kind === 'gsi' && p.gsi === cbGsi)) fail(`GSI ${cbGsi} is both the callback and mapped to a PIRQ`);
}

function checkPorts(t: XenSaveTarget, snap: XenInterruptState, fail: (what: string) => never): void {
  const e = snap.evtchn;
  const longMode = e.sharedInfo?.longMode ?? snap.longMode;
  const limit = e.abi === 'fifo' ? t.events.ports.capacity : longMode ? NR_2L_PORTS_64 : NR_2L_PORTS_32;
  const rows = new Map<number, (typeof e.ports)[number]>();
  const virqs = new Set<string>();
  const pirqs = new Set<number>();
  for (const p of e.ports) {
    const at = `port ${p.port}`;
    if (p.port >= limit) fail(`${at} is beyond the ${e.abi} limit ${limit}`);
    if (rows.has(p.port)) fail(`${at} appears twice`);
    if (p.vcpu >= t.state.cpus) fail(`${at} notifies vCPU ${p.vcpu}`);
    if (p.shadow && e.abi !== 'fifo') fail(`${at} has a FIFO shadow under the 2-level ABI`);
    rows.set(p.port, p);
    if (p.state === PortState.VIRQ) {
      if (p.arg >= NR_VIRQS) fail(`${at}: VIRQ ${p.arg} out of range`);
      const key = `${virqSlot(p.arg, p.vcpu)}:${p.arg}`;
      if (virqs.has(key)) fail(`${at}: VIRQ ${p.arg} bound twice`);
      virqs.add(key);
    } else if (p.state === PortState.PIRQ) {
      if (p.arg >= t.pirq.nrPirqs || pirqs.has(p.arg)) fail(`${at}: PIRQ ${p.arg} out of range or bound twice`);
      pirqs.add(p.arg);
    }
  }
  for (const p of e.ports) {
    if (p.state !== PortState.INTERDOMAIN) continue;
    const peer = rows.get(p.arg);
    if (p.arg === p.port || peer?.state !== PortState.INTERDOMAIN || peer.arg !== p.port) fail(`port ${p.port}: interdomain peer ${p.arg} does not point back`);
  }
}

function callbackGsiOf(t: XenSaveTarget, snap: XenInterruptState): number {
  const raw = snap.params.find(([i]) => i === HVM_PARAM_CALLBACK_IRQ)?.[1];
  if (raw === undefined || snap.upcallVectors.some((v) => v !== 0)) return -1;
  const cb = resolveCallback(BigInt(raw), t);
  return cb.kind === CallbackKind.Gsi ? cb.value : -1;
}
