import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { VmInfo } from '../../../core/api/contract.js';
import { fakeApi, type FakeApi } from '../test-utils/fake-api.js';
import { setApi } from '../vmm.js';
import { useVms } from './vms.js';

let fake: FakeApi;
beforeEach(() => {
  setActivePinia(createPinia());
  fake = fakeApi();
  setApi(fake.api);
});
afterEach(() => vi.useRealTimers());

const info = (id: string, profile: string, state: string, startedAt = 1): VmInfo => ({ id, profile, platform: 'kvm', state, startedAt });

describe('vms store', () => {
  it('lists VMs and follows their state events', async () => {
    fake.calls.listVms!.mockResolvedValueOnce([info('vm1', 'a', 'running')]);
    const vms = useVms();
    await vms.init();
    expect(vms.latestFor('a')?.state).toBe('running');
    fake.emit.vmState({ id: 'vm1', state: 'exited', exit: { status: 0, reason: 'debug-exit' } });
    expect(vms.vms.vm1).toMatchObject({ state: 'exited', exit: { status: 0, reason: 'debug-exit' } });
    fake.emit.vmState({ id: 'vm1', state: 'failed', error: 'the VM host process crashed (SIGSEGV)' });
    expect(vms.vms.vm1!.error).toBe('the VM host process crashed (SIGSEGV)');
  });

  it('keeps state events that arrive before startVm returns the id', async () => {
    const vms = useVms();
    await vms.init();
    fake.calls.startVm!.mockImplementationOnce(async () => {
      fake.emit.vmState({ id: 'vm7', state: 'running' });
      return { id: 'vm7' };
    });
    expect(await vms.start('a', 'xen-hvm')).toBe('vm7');
    expect(vms.vms.vm7).toMatchObject({ profile: 'a', platform: 'xen-hvm', state: 'running' });
    expect(fake.calls.listVms!).toHaveBeenCalledTimes(1);
  });

  it('asks for the list when a VM it does not know reports a state', async () => {
    vi.useFakeTimers();
    const vms = useVms();
    await vms.init();
    fake.calls.listVms!.mockResolvedValueOnce([info('other', 'b', 'starting')]);
    fake.emit.vmState({ id: 'other', state: 'running' });
    await vi.runAllTimersAsync();
    expect(vms.vms.other).toMatchObject({ profile: 'b', state: 'running' });
  });

  it('prefers the active VM of a profile, else the latest', async () => {
    fake.calls.listVms!.mockResolvedValueOnce([info('old', 'a', 'exited', 1), info('live', 'a', 'paused', 2), info('newer', 'a', 'failed', 3)]);
    const vms = useVms();
    await vms.init();
    expect(vms.latestFor('a')?.id).toBe('live');
    fake.emit.vmState({ id: 'live', state: 'exited' });
    expect(vms.latestFor('a')?.id).toBe('newer');
    expect(vms.latestFor('nothing')).toBeUndefined();
  });

  it('runs pause/resume/stop and keeps a failed action per profile', async () => {
    fake.calls.listVms!.mockResolvedValueOnce([info('vm1', 'a', 'running')]);
    const vms = useVms();
    await vms.init();
    fake.calls.pauseVm!.mockResolvedValueOnce(undefined);
    fake.calls.resumeVm!.mockResolvedValueOnce(undefined);
    expect(await vms.pause('vm1')).toBe(true);
    expect(await vms.resume('vm1')).toBe(true);
    expect(fake.calls.pauseVm!).toHaveBeenCalledWith('vm1');
    expect(fake.calls.resumeVm!).toHaveBeenCalledWith('vm1');

    fake.calls.stopVm!.mockRejectedValueOnce(new Error('the VM host does not answer'));
    expect(await vms.stop('vm1')).toBe(false);
    expect(vms.actionError.a).toBe('Could not stop the VM: the VM host does not answer');
    expect(vms.busy.a).toBeUndefined();

    fake.calls.startVm!.mockRejectedValueOnce(new Error('kernel /x not found'));
    expect(await vms.start('a')).toBeNull();
    expect(vms.actionError.a).toBe('Could not start the VM: kernel /x not found');
    vms.clearError('a');
    expect(vms.actionError.a).toBeUndefined();
  });

  it('routes console bytes to the panes attached to that VM only', async () => {
    const vms = useVms();
    await vms.init();
    const a: Uint8Array[] = [];
    const b: Uint8Array[] = [];
    const detachA = vms.attachConsole('vm1', (d) => a.push(d));
    vms.attachConsole('vm2', (d) => b.push(d));
    fake.emit.console({ id: 'vm1', data: new Uint8Array([104, 105]) });
    fake.emit.console({ id: 'vm2', data: new Uint8Array([33]) });
    detachA();
    fake.emit.console({ id: 'vm1', data: new Uint8Array([0]) });
    expect(a).toEqual([new Uint8Array([104, 105])]);
    expect(b).toEqual([new Uint8Array([33])]);
  });

  it('unsubscribes on dispose', async () => {
    const vms = useVms();
    await vms.init();
    expect(fake.listenerCount()).toBe(2);
    vms.dispose();
    expect(fake.listenerCount()).toBe(0);
  });
});
