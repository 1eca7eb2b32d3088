import { describe, expect, it } from 'vitest';
import { InterruptStateError, restoreInterruptState, saveInterruptState, type SnapshotHost } from './interrupt-snapshot.js';
import type { XenPlatform } from '../xen/xen-platform.js';

function host(state: string, vcpuStates: string[], xen?: Partial<XenPlatform>): SnapshotHost & { restored: unknown[] } {
  const restored: unknown[] = [];
  const h = {
    restored,
    state,
    vcpus: vcpuStates.map((s, id) => ({ id, reportedState: () => vcpuStates[id] ?? s })),
    xen: xen && ({ saveInterruptState: () => ({ format: 'x' }), restoreInterruptState: (d: unknown) => void restored.push(d), ...xen } as unknown as XenPlatform),
  };
  return h;
}

describe('machine interrupt-state snapshot', () => {
  it('wraps the Xen state in a versioned envelope once every vCPU reports paused', async () => {
    const states = ['paused', 'running'];
    const h = host('paused', states, {});
    setTimeout(() => (states[1] = 'paused'), 20);
    await expect(saveInterruptState(h)).resolves.toEqual({ format: 'irqbench/interrupt-state', version: 1, platform: 'xen-hvm', xen: { format: 'x' } });
  });

  it('refuses machines without Xen, running machines, and foreign data', async () => {
    await expect(saveInterruptState(host('paused', ['paused']))).rejects.toThrow(/only platform xen-hvm/);
    await expect(saveInterruptState(host('running', ['running'], {}))).rejects.toThrow(/pause it first/);
    const h = host('paused', ['paused'], {});
    for (const bad of [null, 3, {}, { format: 'irqbench/interrupt-state', version: 2, platform: 'xen-hvm', xen: {} }, { format: 'irqbench/interrupt-state', version: 1, platform: 'kvm', xen: {} }]) {
      await expect(restoreInterruptState(h, bad)).rejects.toThrow(InterruptStateError);
    }
    expect(h.restored).toEqual([]);
  });

  it('restores before start without waiting, and passes the Xen part on', async () => {
    const h = host('created', ['created'], {});
    await restoreInterruptState(h, { format: 'irqbench/interrupt-state', version: 1, platform: 'xen-hvm', xen: { a: 1 } });
    expect(h.restored).toEqual([{ a: 1 }]);
  });
});
