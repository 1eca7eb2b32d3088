import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { pcLayout, MiB } from '../memory/layout.js';
import type { Vm } from '../kvm/vm.js';
import type { MsiMessage } from '../irq/types.js';
import { XenPlatform } from './xen-platform.js';
import { XenStateError, type XenInterruptState } from './interrupt-state.js';
import { CB_HEAD, EVTCHN_FIFO_LINK_MASK } from './evtchn/fifo.js';
import { VIRQ_TIMER } from './evtchn/virq.js';
import { CallbackKind, D } from './xen-state.js';
import { HVM_PARAM_CALLBACK_IRQ } from './hypercalls/hvm-op.js';

const SHINFO = 0x10000;
const VCPU_INFO1 = 0x11040;
const CB = 0x30000;
const ARRAY = 0x100000;
const PENDING = 0x800;

interface Rig {
  x: XenPlatform;
  mem: GuestMemory;
  msis: MsiMessage[];
  lines: [number, boolean][];
}
const live: XenPlatform[] = [];
afterEach(() => live.splice(0).forEach((x) => x.dispose()));

function rig(mem = GuestMemory.anonymous(pcLayout(16 * MiB)), cpus = 2): Rig {
  const msis: MsiMessage[] = [];
  const lines: [number, boolean][] = [];
  const vm = { fd: -1, signalMsi: (m: MsiMessage) => (msis.push(m), 1) } as unknown as Vm;
  const x = new XenPlatform({
    vm, mem, cpus, gsiCount: 24,
    gsiLine: (gsi) => ({ set: (l) => void lines.push([gsi, l]) }),
    intxGsi: (dev, pin) => 16 + ((dev + pin) % 4),
    log: () => {}, shutdown: () => {}, isUp: (v) => v < cpus,
  });
  live.push(x);
  return { x, mem, msis, lines };
}

/** A guest that mapped shared_info, registered vcpu_info for vCPU1, and bound a few ports. */
function busyGuest(r: Rig) {
  const { x } = r;
  x.state.set(D.SHINFO_GFN, SHINFO / 4096);
  expect(x.events.setSharedInfo(SHINFO, true)).toBe(0);
  x.state.setVcpuInfo(1, VCPU_INFO1);
  expect(x.events.registerVcpuInfo(1, VCPU_INFO1)).toBe(0);
  const ops = x.events.ops;
  const ipi1 = ops.bindIpi(1);
  const timer0 = ops.bindVirq(VIRQ_TIMER, 0);
  const unbound = ops.allocUnbound(0x7ff0, 0x7ff0);
  const loop = ops.bindInterdomain(0x7ff0, unbound);
  x.pirq.table.allocate(1);
  const pirq = x.pirq.table.allocate(1);
  x.pirq.table.mapGsi(pirq, 5);
  const pport = ops.bindPirq(pirq, 0);
  return { ipi1, timer0, unbound, loop, pirq, pport };
}

const pending = (mem: GuestMemory, port: number): boolean => ((mem.readU32(SHINFO + PENDING + Math.floor(port / 32) * 4) >>> port % 32) & 1) === 1;
const roundTrip = (s: unknown): unknown => JSON.parse(JSON.stringify(s));
const withoutTimers = (s: XenInterruptState) => ({ ...s, timers: [] });

describe('Xen interrupt state save/restore', () => {
  it('round-trips through JSON into a fresh platform on the same guest memory, rebuilding every map', () => {
    const a = rig();
    const p = busyGuest(a);
    a.x.params.set(HVM_PARAM_CALLBACK_IRQ, 2n << 56n | 0xf3n);
    a.x.state.set(D.CALLBACK_KIND, CallbackKind.Vector);
    a.x.state.set(D.CALLBACK_VALUE, 0xf3);
    a.x.timers.setSingleshot(1, a.x.state.nowNs() + 60_000_000_000n);
    a.x.timers.setPeriodic(0, 30_000_000_000n);
    const saved = a.x.saveInterruptState();
    const b = rig(a.mem);
    b.x.restoreInterruptState(roundTrip(saved));
    expect(withoutTimers(b.x.saveInterruptState())).toEqual(withoutTimers(saved));
    // derived state recomputed: VIRQ / PIRQ → port maps, GSI → PIRQ, callback route, vcpu_info
    expect(b.x.events.ports.virqPort(0, VIRQ_TIMER)).toBe(p.timer0);
    expect(b.x.events.ports.pirqPort(p.pirq)).toBe(p.pport);
    expect(b.x.pirq.table.gsiPirq(5)).toBe(p.pirq);
    expect(b.x.state.get(D.CALLBACK_KIND)).toBe(CallbackKind.Vector);
    expect(b.x.state.vcpuInfoGpa(1)).toBe(VCPU_INFO1);
    // timers as time left: still ~60 s and ~30 s away
    const left = b.x.timers.remaining(1).singleshotInNs!;
    expect(left > 59_000_000_000n && left <= 60_000_000_000n).toBe(true);
    expect(b.x.timers.remaining(0).periodNs).toBe(30_000_000_000n);
    // and it delivers: the GSI hook raises the PIRQ's port, a loopback send reaches its peer
    expect(pending(a.mem, p.pport)).toBe(false);
    expect(b.x.pirq.gsi.setGsi(5, true)).toBe(true);
    expect(pending(a.mem, p.pport)).toBe(true);
    a.mem.fill(SHINFO, 16, 0); // the guest handled vCPU0's events: upcall_pending, pending_sel clear
    expect(b.x.events.delivery.send(p.loop)).toBe(0);
    expect(pending(a.mem, p.unbound)).toBe(true);
    expect(b.msis.at(-1)).toMatchObject({ data: 0xf3 });
  });

  it('a restore wipes what came after the save (ports, params, timers, vectors)', () => {
    const a = rig();
    busyGuest(a);
    const saved = a.x.saveInterruptState();
    const extra = a.x.events.ops.bindIpi(0);
    a.x.params.set(7, 9n);
    a.x.timers.setSingleshot(0, a.x.state.nowNs() + 10_000_000_000n);
    a.x.pirq.table.allocate(0);
    a.x.restoreInterruptState(saved);
    expect(a.x.events.ports.read(extra).state).toBe(0);
    expect(a.x.params.has(7)).toBe(false);
    expect(a.x.timers.remaining(0)).toEqual({});
    expect(a.x.saveInterruptState()).toEqual(saved);
  });

  it('FIFO: registration restored and private tails rebuilt from the guest queues', () => {
    const a = rig();
    a.x.state.set(D.SHINFO_GFN, SHINFO / 4096);
    a.x.events.setSharedInfo(SHINFO, true);
    expect(a.x.events.ops.initControl(BigInt(CB / 4096), 0, 0)).toBe(0);
    expect(a.x.events.ops.expandArray(BigInt(ARRAY / 4096))).toBe(0);
    const [p1, p2, p3] = [a.x.events.ops.bindIpi(0), a.x.events.ops.bindIpi(0), a.x.events.ops.bindIpi(0)];
    a.x.events.delivery.send(p1);
    a.x.events.delivery.send(p2);
    const b = rig(a.mem);
    b.x.restoreInterruptState(roundTrip(a.x.saveInterruptState()));
    expect(b.x.events.snapshot().abi).toBe('fifo');
    b.x.events.delivery.send(p3); // must link after p2 (the rebuilt tail), not become a new head
    expect(a.mem.readU32(CB + CB_HEAD + 7 * 4)).toBe(p1);
    expect(a.mem.readU32(ARRAY + p2 * 4) & EVTCHN_FIFO_LINK_MASK).toBe(p3);
  });

  it('GSI callback: the line level is recomputed from vCPU0 upcall_pending', () => {
    const a = rig();
    a.x.state.set(D.SHINFO_GFN, SHINFO / 4096);
    a.x.events.setSharedInfo(SHINFO, true);
    a.x.params.set(HVM_PARAM_CALLBACK_IRQ, 10n);
    const saved = a.x.saveInterruptState();
    a.mem.writeU8(SHINFO, 1); // vcpu_info[0].evtchn_upcall_pending
    const b = rig(a.mem);
    b.x.restoreInterruptState(saved);
    expect(b.x.callbackGsi()).toBe(10);
    expect(b.lines).toContainEqual([10, true]);
  });

  it('hostile snapshots: each refused with XenStateError, nothing changed', () => {
    const a = rig();
    const p = busyGuest(a);
    const good = a.x.saveInterruptState();
    const bad: [string, (s: any) => void][] = [
      ['format', (s) => (s.format = 'nope')],
      ['version', (s) => (s.version = 2)],
      ['cpus', (s) => (s.cpus = 3)],
      ['nr_pirqs', (s) => (s.pirq.nrPirqs = 512)],
      ['port beyond 2L limit', (s) => s.evtchn.ports.push({ port: 5000, state: 5, vcpu: 0, arg: 0, dom: 0, priority: 7 })],
      ['port twice', (s) => s.evtchn.ports.push({ ...s.evtchn.ports[0] })],
      ['vcpu', (s) => (s.evtchn.ports[0].vcpu = 9)],
      ['interdomain peer', (s) => (s.evtchn.ports.find((r: any) => r.port === p.loop).arg = p.ipi1)],
      ['shared_info not RAM', (s) => (s.evtchn.sharedInfo.gpa = 0xfee00000)],
      ['vcpu_info crossing a page', (s) => (s.evtchn.vcpuInfo[1] = 0x11ff8)],
      ['FIFO ABI without registration', (s) => (s.evtchn.abi = 'fifo')],
      ['PIRQ bound twice', (s) => s.evtchn.ports.push({ port: 60, state: 3, vcpu: 0, arg: p.pirq, dom: 0, priority: 7 })],
      ['VIRQ out of range', (s) => (s.evtchn.ports.find((r: any) => r.port === p.timer0).arg = 24)],
      ['param index', (s) => s.params.push([99, '1'])],
      ['param not a number', (s) => s.params.push([3, '0x10'])],
      ['upcall vector', (s) => (s.upcallVectors[0] = 5)],
      ['timer', (s) => (s.timers[0] = { singleshotInNs: -1 })],
      ['unknown field', (s) => (s.extra = 1)],
      ['GSI twice', (s) => s.pirq.pirqs.push({ pirq: 40, kind: 'gsi', gsi: 5 })],
      ['callback GSI mapped to a PIRQ', (s) => s.params.push([0, '5'])],
    ];
    for (const [name, mutate] of bad) {
      const s = structuredClone(good) as any;
      mutate(s);
      expect(() => a.x.restoreInterruptState(s), name).toThrow(XenStateError);
      expect(a.x.saveInterruptState(), name).toEqual(good);
    }
    for (const junk of [null, 42, 'x', [], { format: 'irqbench/xen-interrupt-state' }]) {
      expect(() => a.x.restoreInterruptState(junk)).toThrow(XenStateError);
    }
  });
});
