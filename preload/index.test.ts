// The preload with Electron replaced by a test double: it exposes exactly `window.vmm`,
// unwraps reply envelopes and hands callbacks only the payload, never the IPC event.
import { describe, expect, it, vi } from 'vitest';
import { Channels, type VmmApi } from '../core/api/contract.js';

const fake = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  replies: new Map<string, unknown>(),
  invoked: [] as unknown[][],
  listeners: new Map<string, Set<(...a: unknown[]) => void>>(),
}));

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => fake.exposed.set(key, api) },
  ipcRenderer: {
    invoke: async (channel: string, ...args: unknown[]) => {
      fake.invoked.push([channel, ...args]);
      return fake.replies.get(channel);
    },
    on: (channel: string, l: (...a: unknown[]) => void) => {
      if (!fake.listeners.has(channel)) fake.listeners.set(channel, new Set());
      fake.listeners.get(channel)!.add(l);
    },
    removeListener: (channel: string, l: (...a: unknown[]) => void) => fake.listeners.get(channel)?.delete(l),
  },
}));

await import('./index.js');
const api = fake.exposed.get('vmm') as VmmApi;

describe('preload', () => {
  it('exposes only window.vmm with the contract methods', () => {
    expect([...fake.exposed.keys()]).toEqual(['vmm']);
    expect(Object.keys(api).sort()).toEqual(['getDemoProfile', 'listProfiles', 'onConsole', 'onVmState', 'startVm', 'stopVm']);
  });

  it('sends requests on the contract channels and unwraps replies', async () => {
    fake.replies.set(Channels.startVm, { ok: true, value: { id: 'vm-1' } });
    await expect(api.startVm('demo')).resolves.toEqual({ id: 'vm-1' });
    expect(fake.invoked.at(-1)).toEqual([Channels.startVm, 'demo']);
    fake.replies.set(Channels.stopVm, { ok: false, error: { name: 'VmNotFoundError', message: 'VM vm-9 is not running' } });
    const err = await api.stopVm('vm-9').catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'VmNotFoundError', message: 'VM vm-9 is not running' });
  });

  it('passes event payloads only and unsubscribes', () => {
    const cb = vi.fn();
    const off = api.onVmState(cb);
    const emit = (payload: unknown) => fake.listeners.get(Channels.vmState)!.forEach((l) => l({ sender: 'secret' }, payload));
    emit({ id: 'vm-1', state: 'running' });
    expect(cb).toHaveBeenCalledWith({ id: 'vm-1', state: 'running' });
    off();
    emit({ id: 'vm-1', state: 'exited' });
    expect(cb).toHaveBeenCalledTimes(1);
    expect(fake.listeners.get(Channels.vmState)!.size).toBe(0);
  });
});
