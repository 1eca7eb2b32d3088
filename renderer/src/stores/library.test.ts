import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { VmmRequestError } from '../../../core/api/client.js';
import { fakeApi, summary, type FakeApi } from '../test-utils/fake-api.js';
import { setApi } from '../vmm.js';
import { useLibrary } from './library.js';

let fake: FakeApi;
beforeEach(() => {
  setActivePinia(createPinia());
  fake = fakeApi();
  setApi(fake.api);
});

describe('library store', () => {
  it('loads profiles and broken files, and reloads when the service says they changed', async () => {
    fake.calls.listProfiles!.mockResolvedValueOnce({ profiles: [summary('a')], broken: [{ file: 'bad.json', error: 'cpus: must be at least 1' }] });
    const lib = useLibrary();
    await lib.init();
    expect(lib.profiles.map((p) => p.name)).toEqual(['a']);
    expect(lib.broken).toEqual([{ file: 'bad.json', error: 'cpus: must be at least 1' }]);
    expect(lib.loaded).toBe(true);

    fake.calls.listProfiles!.mockResolvedValueOnce({ profiles: [summary('a'), summary('b')], broken: [] });
    fake.emit.profilesChanged();
    await vi.waitFor(() => expect(lib.profiles.map((p) => p.name)).toEqual(['a', 'b']));
    expect(lib.broken).toEqual([]);
  });

  it('coalesces a burst of change events into one extra request', async () => {
    const lib = useLibrary();
    await lib.init();
    fake.calls.listProfiles!.mockClear();
    fake.emit.profilesChanged();
    fake.emit.profilesChanged();
    fake.emit.profilesChanged();
    await lib.refresh();
    expect(fake.calls.listProfiles!).toHaveBeenCalledTimes(2);
  });

  it('keeps the last list and reports the error when listing fails', async () => {
    const lib = useLibrary();
    fake.calls.listProfiles!.mockResolvedValueOnce({ profiles: [summary('a')], broken: [] });
    await lib.init();
    fake.calls.listProfiles!.mockRejectedValueOnce(new Error('profiles folder /x is not readable'));
    await lib.refresh();
    expect(lib.error).toBe('profiles folder /x is not readable');
    expect(lib.profiles.map((p) => p.name)).toEqual(['a']);
  });

  it('saves with rename, duplicates and deletes through the API', async () => {
    const lib = useLibrary();
    fake.calls.listProfiles!.mockResolvedValueOnce({ profiles: [summary('demo', { source: 'builtin' }), summary('old')], broken: [] });
    await lib.init();

    fake.calls.saveProfile!.mockResolvedValueOnce(summary('new'));
    await lib.save({ name: 'new' }, 'old');
    expect(fake.calls.saveProfile!).toHaveBeenCalledWith({ name: 'new' }, 'old');
    expect(lib.profiles.map((p) => p.name)).toEqual(['demo', 'new']);

    fake.calls.duplicateProfile!.mockResolvedValueOnce(summary('demo copy'));
    await lib.duplicate('demo', 'demo copy');
    expect(fake.calls.duplicateProfile!).toHaveBeenCalledWith('demo', 'demo copy');
    expect(lib.byName('demo copy')?.source).toBe('user');

    fake.calls.deleteProfile!.mockResolvedValueOnce(undefined);
    await lib.remove('new');
    expect(lib.byName('new')).toBeUndefined();
  });

  it('lets a refused save reject with the field issues', async () => {
    const lib = useLibrary();
    fake.calls.saveProfile!.mockRejectedValueOnce(new VmmRequestError('ProfileError', 'invalid profile', [{ path: 'cpus', message: 'must be at least 1' }]));
    await expect(lib.save({})).rejects.toMatchObject({ issues: [{ path: 'cpus', message: 'must be at least 1' }] });
  });

  it('proposes free names', async () => {
    const lib = useLibrary();
    fake.calls.listProfiles!.mockResolvedValueOnce({ profiles: [summary('New VM'), summary('New VM 2')], broken: [] });
    await lib.init();
    expect(lib.freeName('New VM')).toBe('New VM 3');
    expect(lib.freeName('Other')).toBe('Other');
  });
});
