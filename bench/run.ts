// `npm run bench`: every benchmark compares against a reference measured in the same run
// and prints the ratio. Options: --seconds N (per measurement), --only io|boot|irq|blk|xen|ui.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ioExitBench } from './io-exit.js';
import { bootBench } from './boot-time.js';
import { irqPathsBench } from './irq-paths.js';
import { blkIopsBench } from './blk-iops.js';
import { xenEvtchnBench } from './xen-evtchn.js';
import { uiDashboardBench } from './ui-dashboard.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, only: { type: 'string' } } });
const seconds = Number(values.seconds);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

if (!values.only || values.only === 'io') {
  const r = await ioExitBench(seconds);
  console.log('I/O-exit round trips per second (best of 3 alternating runs)');
  console.log(`  C KVM_RUN loop (reference)        ${fmt(r.c.perSecond).padStart(10)}/s`);
  console.log(`  TypeScript, vCPU-thread handler   ${fmt(r.local.perSecond).padStart(10)}/s   ratio ${(r.local.perSecond / r.c.perSecond).toFixed(3)}  (target >= 0.90)`);
  console.log(`  TypeScript, host-thread device    ${fmt(r.host.perSecond).padStart(10)}/s   ratio ${(r.host.perSecond / r.c.perSecond).toFixed(3)}`);
}
if (!values.only || values.only === 'boot') {
  const r = await bootBench();
  console.log('Start to first serial line of the hello lab guest (median of runs)');
  if (r.qemu === undefined) console.log(`  QEMU: not measured (${r.qemuSkipReason})`);
  else console.log(`  qemu-system-x86_64 -accel kvm (reference)  ${r.qemu.toFixed(1)} ms`);
  console.log(`  vmm run                                    ${r.vmm.toFixed(1)} ms${r.qemu ? `   ratio ${(r.vmm / r.qemu).toFixed(3)}  (target <= 1.0)` : ''}`);
}
if (!values.only || values.only === 'irq') {
  const rs = await irqPathsBench(seconds);
  const raw = rs.find((r) => r.path === 'raw')!;
  console.log('irq-lab: interrupts per second to the guest handler, one in flight (raise -> handler ACK -> next)');
  for (const r of rs) {
    const lat = r.p50Us === undefined ? '' : `   device fire->ACK p50 ${r.p50Us} us, p99 ${r.p99Us} us`;
    const ratio = r.path === 'raw' ? '(reference: bench writes the irqfd eventfd)' : `ratio ${(r.handledPerSec / raw.handledPerSec).toFixed(3)}${r.path === 'irqfd' ? ' (target >= 0.80)' : ''}`;
    console.log(`  ${r.path.padEnd(10)} ${fmt(r.handledPerSec).padStart(8)}/s  ${ratio}${lat}`);
  }
}
if (!values.only || values.only === 'blk') {
  const r = await blkIopsBench(seconds);
  console.log('virtio-blk 4 KiB random reads, queue depth 1, same lab guest');
  if (r.qemu === undefined) console.log(`  QEMU: not measured (${r.qemuSkipReason})`);
  else console.log(`  QEMU -accel kvm, its own virtio-blk-pci (reference)   ${fmt(r.qemu).padStart(8)} IOPS`);
  console.log(`  vmm, vhost-user-blk device process                   ${fmt(r.vmm).padStart(8)} IOPS${r.qemu ? `   ratio ${(r.vmm / r.qemu).toFixed(3)}  (target >= 1.0)` : ''}`);
}
if (!values.only || values.only === 'xen') {
  const r = await xenEvtchnBench(seconds);
  console.log(`Xen EVTCHNOP_send -> upcall round trips, xen-bench guest (2 vCPUs, irqchip ${r.irqchip})`);
  console.log(`  hypercall registers through KVM_CAP_SYNC_REGS: ${r.syncRegs.used ? 'yes' : 'no'}; ${r.syncRegs.detail}`);
  console.log(`  bare I/O-exit round trip, out 0x80 (reference)  ${fmt(r.exit.perSecond).padStart(10)}/s   ${r.exit.usPerOp.toFixed(2)} us`);
  for (const p of r.phases) {
    const perLeg = p.usPerOp / p.legs;
    const legs = p.legs > 1 ? ` (${p.legs} legs, ${perLeg.toFixed(2)} us each)` : '';
    console.log(`  ${p.name.padEnd(46)} ${fmt(p.perSecond).padStart(10)}/s   ${p.usPerOp.toFixed(2)} us${legs}   time ratio ${(perLeg / r.exit.usPerOp).toFixed(2)}x  ${p.upcall ? '  (target <= 1.3x)' : ''}`);
    if (p.inSendNs !== undefined) console.log(`      vCPU0: ${(p.inSendNs / 1000).toFixed(1)} us in the send hypercall, ${(p.afterSendNs! / 1000).toFixed(1)} us from its return to the handler`);
  }
}
if (!values.only || values.only === 'ui') {
  // 1. The views alone: a synthetic 100k irq/s, 2048-vector stream fed straight into the real
  //    components (renderer/src/views/vm/bench), against the same page rendering nothing.
  console.log('UI smoothness in Chromium, synthetic stats stream: 100,000 interrupts/s over 2048 vectors at 10 Hz');
  const synth = (view: string) => {
    const r = spawnSync(process.execPath, ['renderer/src/views/vm/bench/run.mjs', view, String(Math.max(10, seconds * 5))], { encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      return JSON.parse(line) as { taskCpuMaxMs: number; taskWallMaxMs: number; frameMaxMs: number; frameP99Ms: number; framesOver50: number; frames: number; tasksOver50Wall: number };
    } catch {
      return `not measured: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ') || `exit ${r.status}`}`;
    }
  };
  const views = ['idle', 'dashboard', 'devices'].map((v) => [v, synth(v)] as const);
  const idle = views[0]![1];
  for (const [view, r] of views) {
    if (typeof r === 'string') console.log(`  ${view.padEnd(10)} ${r}`);
    else {
      const ratio = view === 'idle' || typeof idle === 'string' ? '(reference: stream parsed, nothing rendered)' : `frame-max ratio ${(r.frameMaxMs / idle.frameMaxMs).toFixed(2)}`;
      console.log(`  ${view.padEnd(10)} longest task ${r.taskWallMaxMs} ms (CPU ${r.taskCpuMaxMs} ms), tasks > 50 ms: ${r.tasksOver50Wall}; longest frame ${r.frameMaxMs} ms (p99 ${r.frameP99Ms}), frames > 50 ms: ${r.framesOver50}/${r.frames}  ${ratio}  (target: none over 50 ms)`);
    }
  }
  // 2. The whole app under a live storm VM (browser mode, the VM on the same 2 cores).
  const r = await uiDashboardBench(Math.max(5, seconds * 2));
  console.log('UI smoothness in Chromium (browser mode) under interrupt load: longest main-thread task and animation-frame gap');
  if (r.skipped) console.log(`  not measured (${r.skipped})`);
  else {
    console.log(`  load: ${fmt(r.interruptsPerSec)} interrupts/s fired by irq-lab across ${r.vectors} MSI-X vectors (target load 100,000/s)`);
    const ref = r.phases[0]!;
    for (const p of r.phases) {
      const ratio = p === ref ? '(reference)' : `ratio ${(p.maxFrameGapMs / ref.maxFrameGapMs).toFixed(2)}`;
      console.log(`  ${p.name.padEnd(56)} max task ${p.maxTaskMs.toFixed(1).padStart(6)} ms (CPU ${p.maxTaskCpuMs.toFixed(1)} ms), max frame gap ${p.maxFrameGapMs.toFixed(1).padStart(6)} ms (p99 ${p.p99FrameGapMs.toFixed(1)}), frames > 50 ms: ${p.framesOver50}/${p.frames}  ${ratio}  (target: none over 50 ms)`);
    }
  }
}
