// Test fixtures for core/xen: anonymous guest RAM with identity paging, a domain with spies
// for MSIs, timers, console and shutdown, and call builders for both ABIs.
import { GuestMemory } from '../memory/guest-memory.js';
import { pcLayout, MiB } from '../memory/layout.js';
import type { MsiMessage } from '../irq/types.js';
import type { HypercallCall } from './abi.js';
import { GuestAccess, PagingMode } from './guest-access.js';
import { D, XenState } from './xen-state.js';
import { XenStats } from './xen-stats.js';
import { UpcallInjector } from './upcall.js';
import { XenTimers } from './timers.js';
import { vcpuEvtchn, xenUpcall } from './evtchn-seam.js';
import { EventChannels } from './evtchn/evtchn.js';
import type { ShutdownKind, XenDomain } from './hypercalls/domain.js';

export interface TestDomain extends XenDomain {
  mem: GuestMemory;
  stats: XenStats;
  msis: MsiMessage[];
  virqs: number[];
  consoleOut: string[];
  shutdowns: ShutdownKind[];
  callbackChanges: number;
}

export function testDomain(cpus = 2): TestDomain {
  const mem = GuestMemory.anonymous(pcLayout(16 * MiB));
  const state = XenState.create(cpus, mem);
  const stats = XenStats.create(cpus);
  const msis: MsiMessage[] = [];
  const virqs: number[] = [];
  const upcall = new UpcallInjector(state, stats, (m) => msis.push(m));
  const d: TestDomain = {
    mem, state, stats, msis, virqs, consoleOut: [], shutdowns: [], callbackChanges: 0,
    upcall,
    timers: new XenTimers(state, (v) => virqs.push(v)),
    params: new Map(),
    gsiCount: 24,
    events: new EventChannels({ mem, nrVcpus: cpus, upcall: xenUpcall(state, upcall) }),
    intxGsi: (dev, pin) => 16 + ((dev + pin) % 4),
    callbackChanged: () => void d.callbackChanges++,
    console: (_v, b) => void d.consoleOut.push(Buffer.from(b).toString('latin1')),
    shutdown: (k) => void d.shutdowns.push(k),
    isUp: (v) => v < cpus,
  };
  return d;
}

export const guestOf = (mem: GuestMemory): GuestAccess => new GuestAccess(mem, { mode: PagingMode.Off, cr3: 0n, pse: false, wp: true });

export function call(nr: number, args: (number | bigint)[], o: Partial<HypercallCall> = {}): HypercallCall {
  const a = args.map((x) => BigInt(x));
  while (a.length < 6) a.push(0n);
  return { vcpuId: 0, nr, args: a, longMode: true, cpl: 0, paging: { mode: PagingMode.Off, cr3: 0n, pse: false, wp: true }, ...o };
}

/** The vCPU-thread event-channel backend of a test domain (same thread, same buffers). */
export const vcpuEvtchnOf = (d: XenDomain): ReturnType<typeof vcpuEvtchn> => vcpuEvtchn(d.events.delivery);

/** Place shared_info at `gpa` in both views (platform state and event-channel core), without the hypercall. */
export function mapSharedInfo(d: XenDomain, gpa: number): void {
  d.state.set(D.SHINFO_GFN, gpa / 4096);
  d.events.setSharedInfo(gpa, d.state.longMode());
}
