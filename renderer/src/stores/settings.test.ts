import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { fakeApi, type FakeApi } from '../test-utils/fake-api.js';
import { setApi } from '../vmm.js';
import { useSettings } from './settings.js';

let fake: FakeApi;
beforeEach(() => {
  setActivePinia(createPinia());
  fake = fakeApi();
  setApi(fake.api);
});

describe('settings store', () => {
  it('loads and saves the profiles folder', async () => {
    fake.calls.getSettings!.mockResolvedValueOnce({ profilesDir: '/home/u/.config/irqbench/profiles' });
    fake.calls.setSettings!.mockImplementationOnce(async (s) => s);
    const st = useSettings();
    await st.load();
    expect(st.settings?.profilesDir).toBe('/home/u/.config/irqbench/profiles');
    expect(await st.save({ profilesDir: '/tmp/p' })).toBe(true);
    expect(fake.calls.setSettings!).toHaveBeenCalledWith({ profilesDir: '/tmp/p' });
    expect(st.settings?.profilesDir).toBe('/tmp/p');
  });

  it('keeps load and save errors apart, and the old settings on a refused save', async () => {
    const st = useSettings();
    fake.calls.getSettings!.mockRejectedValueOnce(new Error('settings file is corrupt'));
    await st.load();
    expect(st.loadError).toBe('settings file is corrupt');
    fake.calls.getSettings!.mockResolvedValueOnce({ profilesDir: '/a' });
    await st.load();
    expect(st.loadError).toBeNull();
    fake.calls.setSettings!.mockRejectedValueOnce(new Error('/nope is not a writable folder; pick another'));
    expect(await st.save({ profilesDir: '/nope' })).toBe(false);
    expect(st.saveError).toBe('/nope is not a writable folder; pick another');
    expect(st.settings?.profilesDir).toBe('/a');
    expect(st.saving).toBe(false);
  });
});
