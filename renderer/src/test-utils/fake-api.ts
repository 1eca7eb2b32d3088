// A VmmApi for store and component tests: every request is a vi.fn (override per test with
// mockResolvedValue/mockImplementation), events are emitted by hand through `emit`.
import { vi, type Mock } from 'vitest';
import { REQUEST_CHANNELS, MethodOf, type ConsoleEvent, type MenuEvent, type ProfileSummary, type StatsEvent, type VmmApi, type VmStateEvent } from '../../../core/api/contract.js';

type Listener<T> = (e: T) => void;

export interface FakeApi {
  api: VmmApi;
  /** The request mocks, by method name. */
  calls: Record<string, Mock>;
  emit: {
    console(e: ConsoleEvent): void;
    vmState(e: VmStateEvent): void;
    stats(e: StatsEvent): void;
    profilesChanged(): void;
    menu(e: MenuEvent): void;
  };
  listenerCount(): number;
}

export function fakeApi(): FakeApi {
  const listeners = { console: new Set<Listener<ConsoleEvent>>(), vmState: new Set<Listener<VmStateEvent>>(), stats: new Set<Listener<StatsEvent>>(), profiles: new Set<Listener<void>>(), menu: new Set<Listener<MenuEvent>>() };
  const calls: Record<string, Mock> = {};
  for (const channel of REQUEST_CHANNELS) {
    const name = MethodOf[channel];
    calls[name] = vi.fn(async () => {
      throw new Error(`${name} is not faked in this test`);
    });
  }
  calls.listProfiles!.mockResolvedValue({ profiles: [], broken: [] });
  calls.listVms!.mockResolvedValue([]);
  const sub = <T>(set: Set<Listener<T>>) => (cb: Listener<T>) => {
    set.add(cb);
    return () => void set.delete(cb);
  };
  const api = {
    ...calls,
    mode: 'web',
    onConsole: sub(listeners.console),
    onVmState: sub(listeners.vmState),
    onStats: sub(listeners.stats),
    onProfilesChanged: sub(listeners.profiles),
    onMenu: sub(listeners.menu),
  } as unknown as VmmApi;
  return {
    api,
    calls,
    emit: {
      console: (e) => listeners.console.forEach((l) => l(e)),
      vmState: (e) => listeners.vmState.forEach((l) => l(e)),
      stats: (e) => listeners.stats.forEach((l) => l(e)),
      profilesChanged: () => listeners.profiles.forEach((l) => l()),
      menu: (e) => listeners.menu.forEach((l) => l(e)),
    },
    listenerCount: () => Object.values(listeners).reduce((n, s) => n + s.size, 0),
  };
}

export function summary(name: string, over: Partial<ProfileSummary> = {}): ProfileSummary {
  return {
    name,
    platform: 'kvm',
    cpus: 1,
    memoryMiB: 64,
    irqchip: 'kernel',
    bootKind: 'auto',
    kernel: '/guests/hello.elf',
    cmdline: '',
    devices: [],
    source: 'user',
    ...over,
  };
}
