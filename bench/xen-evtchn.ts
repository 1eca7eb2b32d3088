// Xen event channels: EVTCHNOP_send -> upcall round trips per second, measured by the
// xen-bench lab guest (2 vCPUs, platform xen-hvm), against a bare I/O-exit round trip
// (`out 0x80`, answered on the vCPU thread) measured by the same guest in the same run.
// Phases: loopback interdomain on one vCPU (send to the peer port, the upcall handler
// counts it, send again) and an IPI ping-pong across two vCPUs (one op = both legs), each
// with the 2-level and the FIFO ABI. Ratios are times per op against the exit round trip
// (target <= 1.3 for one send -> upcall leg). The result says whether the hypercalls took
// their registers from KVM_CAP_SYNC_REGS (the platform's decision, plus the worker's addon
// check) or from 3 ioctls each; IRQBENCH_XEN_SYNC_REGS=0 forces the ioctls, to compare.
import { nativeKvm } from '../core/kvm/addon.js';
import { addonHasSyncRegs } from '../core/machine/sync-regs.js';
import type { XenPlatform } from '../core/xen/xen-platform.js';
import { runGuest, GUEST_QUIRKS } from '../test/support/guests.js';

export interface XenPhase {
  name: string;
  ops: number;
  us: number;
  perSecond: number;
  usPerOp: number;
  /** send->upcall legs per op (the IPI ping-pong has two) */
  legs: number;
  /** a send -> upcall phase (the others are further references: a LAPIC self-IPI, a trivial hypercall, a send that only coalesces) */
  upcall: boolean;
  /** guest-measured split of a send -> upcall op: inside the send hypercall, and from its
   * return to vCPU0's handler (ns per op) */
  inSendNs?: number;
  afterSendNs?: number;
}

export interface XenBenchResult {
  exit: XenPhase;
  phases: XenPhase[];
  irqchip: string;
  /** How the hypercall exits read registers and wrote the result, and why. */
  syncRegs: { used: boolean; detail: string };
}

/** The same decision the vCPU workers made: the platform's (capability, env) and the addon's. */
export function syncRegsUse(xen: Pick<XenPlatform, 'usesSyncRegs'> | undefined, env = process.env, native = nativeKvm()): XenBenchResult['syncRegs'] {
  if (env.IRQBENCH_XEN_SYNC_REGS === '0') return { used: false, detail: 'turned off by IRQBENCH_XEN_SYNC_REGS=0; KVM_GET_REGS/GET_SREGS/SET_REGS per hypercall' };
  if (!xen?.usesSyncRegs) return { used: false, detail: "this host's KVM does not offer KVM_CAP_SYNC_REGS with regs and sregs: 3 ioctls per hypercall" };
  if (!addonHasSyncRegs(native, native.SHADOW_SIZE)) return { used: false, detail: 'the native addon predates sync regs (rebuild it): 3 ioctls per hypercall' };
  return { used: true, detail: 'registers read from and RAX written to kvm_run, no ioctl per hypercall' };
}

export function parseBench(output: string): XenPhase[] {
  const out: XenPhase[] = [];
  for (const [, name, ops, us] of output.matchAll(/LAB-BENCH (\S+) ops=(\d+) us=(\d+)/g)) {
    const o = Number(ops);
    const t = Number(us);
    out.push({ name: name!, ops: o, us: t, perSecond: (o * 1e6) / t, usPerOp: t / o, legs: /^(2l|fifo)-ipi$/.test(name!) ? 2 : 1, upcall: /^(2l|fifo)-(ipi|loopback)$/.test(name!) });
  }
  for (const [, name, a, b] of output.matchAll(/split (\S+) in-send=(\d+) ns after-send=(\d+) ns/g)) {
    const p = out.find((x) => x.name === name);
    if (p) Object.assign(p, { inSendNs: Number(a), afterSendNs: Number(b) });
  }
  return out;
}

export async function xenEvtchnBench(seconds = 2, irqchip: 'kernel' | 'split' = 'kernel'): Promise<XenBenchResult> {
  const ms = Math.max(100, Math.round(seconds * 1000));
  const run = await runGuest('xen-bench', {
    platform: 'xen-hvm',
    cpus: 2,
    irqchip,
    cmdline: `shutdown=1 ms=${ms} ${GUEST_QUIRKS}`,
    timeoutMs: 7 * ms + 30_000,
  });
  const phases = parseBench(run.output);
  const exits = phases.filter((p) => p.name === 'exit');
  if (exits.length === 0 || phases.length < 9 || /LAB-FAIL/.test(run.output)) {
    throw new Error(`xen-bench did not complete:\n${run.output}`);
  }
  // the exit loop runs first and last; the better of the two is the floor
  const exit = exits.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  return { exit, phases: phases.filter((p) => p.name !== 'exit'), irqchip, syncRegs: syncRegsUse(run.machine.xen) };
}
