// FIFO event channels on the xen-hvm platform: the xen-fifo lab guest runs init_control per
// vCPU, EVTCHNOP_reset back to 2-level (and FIFO again), priorities, masking and relink on unmask, expand_array past 8192 ports (and up to the
// 128-page limit), sends from both vCPUs at once while vCPU0 consumes, and the FIFO errno
// paths. Its per-port send and handled counts must equal the VMM's per-port statistics:
// every send that made a port pending is consumed exactly once (deliveries == handled,
// sends == deliveries + coalesced). 2 vCPUs, both irqchip modes.
import { describe, expect, it } from 'vitest';
import { hasKvm, labResults, runGuest, GUEST_QUIRKS } from '../support/guests.js';
import type { MachineStats } from '../../core/stats/machine-stats.js';
import { sampleMachine } from '../../core/stats/machine-stats.js';
import { parseBench } from '../../bench/xen-evtchn.js';

describe.skipIf(!hasKvm)('xen-hvm FIFO event channels', () => {
  for (const irqchip of ['kernel', 'split'] as const) {
    it(`xen-fifo: priorities, mask/unmask relink, >8192 ports, concurrent senders, errnos (2 vCPUs, irqchip ${irqchip})`, async () => {
      let stats: MachineStats | undefined;
      const run = await runGuest('xen-fifo', {
        platform: 'xen-hvm',
        cpus: 2,
        irqchip,
        cmdline: `shutdown=1 ${GUEST_QUIRKS}`,
        timeoutMs: 50_000,
        onEnding: (m) => (stats = sampleMachine(m)),
      });
      const lab = labResults(run.output);
      expect(lab.failed, run.output).toEqual([]);
      expect(lab.passed.length, run.output).toBeGreaterThanOrEqual(60);
      expect(run.result, run.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
      const e = stats!.xen!.evtchn;
      const ports = [...run.output.matchAll(/fifo-port name=(\S+) port=(\d+) vcpu=(\d+) prio=(\d+) sent=(\d+) hits=(\d+)/g)];
      expect(ports.length, run.output).toBe(8);
      for (const [, name, port, vcpu, prio, sent, hits] of ports) {
        const p = e.ports.find((x) => x.port === Number(port));
        expect(p, name).toBeDefined();
        expect(p, name).toMatchObject({ type: 'ipi', vcpu: Number(vcpu), priority: Number(prio), deliveries: Number(hits) });
        if (name!.startsWith('blast')) {
          // every send counted on both sides; each one either made the port pending (and was
          // consumed exactly once) or found it already pending (coalesced)
          expect(p!.sends, name).toBe(Number(sent));
          expect(p!.deliveries + p!.coalesced, name).toBe(p!.sends);
          expect(p!.deliveries, name).toBeGreaterThan(0);
        }
      }
      const blastSends = ports.filter(([, n]) => n!.startsWith('blast')).reduce((a, [, , port]) => a + e.ports.find((x) => x.port === Number(port))!.sends, 0);
      expect(blastSends).toBe(10_000);
      const ops = e.ops;
      // + the reset scenario: FIFO set up twice, FIFO-only ops refused again after the reset
      expect(ops.init_control).toMatchObject({ ok: 4, EINVAL: 4, ENOENT: 1, EFAULT: 1 });
      expect(ops.expand_array).toMatchObject({ ok: 129, EOPNOTSUPP: 2, EINVAL: 1, ENOSPC: 1 });
      expect(ops.set_priority).toMatchObject({ ENOSYS: 2, EACCES: 1, EINVAL: 3 });
      expect(ops.reset).toMatchObject({ ok: 1, ESRCH: 1, EFAULT: 1 });
      expect(ops.bind_ipi?.ok).toBeGreaterThan(8190);
      expect(e.upcallsPerVcpu[1]).toBeGreaterThanOrEqual(5);
    });
  }
});

describe.skipIf(!hasKvm)('xen-bench guest (bench/xen-evtchn.ts)', () => {
  it('runs every phase, 2-level and FIFO, loopback and IPI ping-pong, with no lost upcall', async () => {
    const run = await runGuest('xen-bench', {
      platform: 'xen-hvm',
      cpus: 2,
      irqchip: 'split',
      cmdline: `shutdown=1 ms=100 ${GUEST_QUIRKS}`,
    });
    expect(labResults(run.output).failed, run.output).toEqual([]);
    expect(run.result, run.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
    const phases = parseBench(run.output);
    expect(phases.map((p) => p.name)).toEqual([
      'exit', 'self-ipi', 'hcall-version', '2l-send-coalesced', '2l-loopback', '2l-ipi', 'fifo-loopback', 'fifo-ipi', 'exit',
    ]);
    for (const p of phases) expect(p.ops, p.name).toBeGreaterThan(0);
  });
});
