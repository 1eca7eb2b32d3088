// The Xen HVM platform on KVM: the xen-hello lab guest finds the Xen CPUID leaves, sets up
// the hypercall page through the trapped MSR, and checks every hypercall it makes (success
// and exact errno, hostile pointers included) while the VMM counts them.
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

  it('the same guest on the plain kvm platform finds no Xen leaves', async () => {
    const run = await runGuest('xen-hello', { cmdline: GUEST_QUIRKS });
    expect(labResults(run.output).failed.join('\n')).toContain('xen-hello.cpuid-base');
    expect(run.result.reason).toBe('debug-exit');
  });
});
