// The preload with Electron replaced by a test double: it exposes exactly `window.vmm`
// (every contract method, the event subscriptions and pathForFile), unwraps reply envelopes
// and hands callbacks only the payload, never the IPC event.
import { describe, expect, it, vi } from 'vitest';
import { Channels, Events, MethodOf, REQUEST_CHANNELS, type VmmApi } from '../core/api/contract.js';

const fake = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  replies: new Map<string, unknown>(),
  invoked: [] as unknown[][],
  listeners: new Map<string, Set<(...a: unknown[]) => void>>(),
}));

vi.mock('electron', () => ({
  webUtils: {
    getPathForFile: (file: { name?: string }) => {
      if (!(file instanceof File)) throw new TypeError('not a File');
      return file.name === 'from-script' ? '' : `/home/u/${file.name}`;
    },
  },
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
    const expected = [
      ...REQUEST_CHANNELS.map((c) => MethodOf[c]),
      'mode',
      'onConsole',
      'onVmState',
      'onStats',
      'onProfilesChanged',
      'onMenu',
      'pathForFile',
    ];
    expect(Object.keys(api).sort()).toEqual(expected.sort());
    expect(api.mode).toBe('electron');
  });

  it('gives the host path of a dropped file, and nothing for anything else', () => {
    expect(api.pathForFile!(new File([new Uint8Array(1)], 'bzImage'))).toBe('/home/u/bzImage');
    expect(api.pathForFile!(new File([], 'from-script'))).toBeUndefined();
    expect(api.pathForFile!({ name: 'fake' })).toBeUndefined();
    expect(api.pathForFile!(null)).toBeUndefined();
  });

  it('sends requests on the contract channels and unwraps replies', async () => {
    fake.replies.set(Channels.startVm, { ok: true, value: { id: 'vm-1' } });
    await expect(api.startVm('demo')).resolves.toEqual({ id: 'vm-1' });
    expect(fake.invoked.at(-1)).toEqual([Channels.startVm, 'demo']);
    fake.replies.set(Channels.stopVm, { ok: false, error: { name: 'VmNotFoundError', message: 'VM vm-9 is not running' } });
    const err = await api.stopVm('vm-9').catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'VmNotFoundError', message: 'VM vm-9 is not running' });
    const issues = [{ path: 'cpus', message: 'must be at least 1' }];
    fake.replies.set(Channels.saveProfile, { ok: false, error: { name: 'ProfileError', message: 'bad', issues } });
    await expect(api.saveProfile({}, 'Old')).rejects.toMatchObject({ name: 'ProfileError', issues });
    expect(fake.invoked.at(-1)).toEqual([Channels.saveProfile, {}, 'Old']);
  });

  it('passes event payloads only and unsubscribes', () => {
    const cb = vi.fn();
    const off = api.onVmState(cb);
    const emit = (payload: unknown) => fake.listeners.get(Events.vmState)!.forEach((l) => l({ sender: 'secret' }, payload));
    emit({ id: 'vm-1', state: 'running' });
    expect(cb).toHaveBeenCalledWith({ id: 'vm-1', state: 'running' });
    off();
    emit({ id: 'vm-1', state: 'exited' });
    expect(cb).toHaveBeenCalledTimes(1);
    expect(fake.listeners.get(Events.vmState)!.size).toBe(0);
  });
});
