// The Xen HVM platform on KVM: the xen-hello lab guest finds the Xen CPUID leaves, sets up
// the hypercall page through the trapped MSR, and checks every hypercall it makes (success
// and exact errno, hostile pointers included) while the VMM counts them. xen-evtchn runs
// the 2-level event-channel scenarios on 2 vCPUs in both irqchip modes; its per-port event
// counts must equal the VMM's per-port deliveries.
import { describe, expect, it } from 'vitest';
import { hasKvm, labResults, runGuest, GUEST_QUIRKS } from '../support/guests.js';
import type { MachineStats } from '../../core/stats/machine-stats.js';
import { sampleMachine } from '../../core/stats/machine-stats.js';
import { formatStats } from '../../core/stats/format.js';

describe.skipIf(!hasKvm)('xen-hvm platform', () => {
  it('xen-hello passes every check and ends with SCHEDOP_shutdown(poweroff)', async () => {
    let stats: MachineStats | undefined;
    const run = await runGuest('xen-hello', {
      platform: 'xen-hvm',
      cmdline: `shutdown=1 ${GUEST_QUIRKS}`,
      onEnding: (m) => (stats = sampleMachine(m)),
    });
    const lab = labResults(run.output);
    expect(lab.failed, run.output).toEqual([]);
    expect(lab.passed.length, run.output).toBeGreaterThan(50);
    expect(run.output).toMatch(/all checks done pass=\d+ fail=0/);
    expect(run.result, run.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
    expect(run.log.join('\n')).toContain('xen console (vcpu0): hello from xen-hello over console_io');
    const x = stats!.xen!;
    expect(x.hypercallPages).toBe(1);
    expect(x.msrFaults).toBe(2);
    expect(x.upcalls[0]).toBeGreaterThanOrEqual(1);
    expect(x.errors['vcpu_op EBUSY']).toBe(1);
    expect(x.errors['xen_version EFAULT']).toBe(4);
    expect(x.fastPath).toBeGreaterThan(0);
    expect(x.forwarded).toBeGreaterThan(0);
    expect(formatStats(stats!)).toContain('Xen HVM: shared_info gfn 0x');
  });

  for (const irqchip of ['kernel', 'split'] as const) {
    it(`xen-evtchn: 2-level delivery, IPIs, timers, loopback, bind_vcpu, poll, errnos (2 vCPUs, irqchip ${irqchip})`, async () => {
      let stats: MachineStats | undefined;
      const run = await runGuest('xen-evtchn', {
        platform: 'xen-hvm',
        cpus: 2,
        irqchip,
        cmdline: `shutdown=1 ${GUEST_QUIRKS}`,
        onEnding: (m) => (stats = sampleMachine(m)),
      });
      const lab = labResults(run.output);
      expect(lab.failed, run.output).toEqual([]);
      expect(lab.passed.length, run.output).toBeGreaterThanOrEqual(100);
      expect(run.result, run.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
      const e = stats!.xen!.evtchn;
      const ports = [...run.output.matchAll(/evtchn-port name=(\S+) port=(\d+) vcpu=(\d+) hits=(\d+)/g)];
      expect(ports.length, run.output).toBe(7);
      for (const [, name, port, vcpu, hits] of ports) {
        const p = e.ports.find((x) => x.port === Number(port));
        expect(p, name).toMatchObject({ vcpu: Number(vcpu), deliveries: Number(hits) });
      }
      const byName = Object.fromEntries(ports.map(([, n, port]) => [n!, e.ports.find((x) => x.port === Number(port))!]));
      expect(byName['ipi-a']).toMatchObject({ type: 'ipi', sends: 6, deliveries: 5, coalesced: 1, maskedPending: 1, upcalls: 5 });
      expect(byName['ipi-b']).toMatchObject({ type: 'ipi', vcpu: 1, sends: 10, deliveries: 10 });
      expect(byName['loop-u']).toMatchObject({ type: 'interdomain', sends: 5, deliveries: 5 });
      expect(byName['loop-l']).toMatchObject({ type: 'interdomain', sends: 6, deliveries: 6 });
      expect(byName['timer1']).toMatchObject({ type: 'virq', vcpu: 1, deliveries: 1 });
      expect(e.ops.bind_virq?.EEXIST).toBe(1);
      expect(e.ops.close?.EINVAL).toBe(3);
      expect(e.upcallsPerVcpu[1]).toBeGreaterThan(10);
      expect(formatStats(stats!)).toMatch(/event channels \(2l\)/);
    });
  }

  it('the same guest on the plain kvm platform finds no Xen leaves', async () => {
    const run = await runGuest('xen-hello', { cmdline: GUEST_QUIRKS });
    expect(labResults(run.output).failed.join('\n')).toContain('xen-hello.cpuid-base');
    expect(run.result.reason).toBe('debug-exit');
  });
});
