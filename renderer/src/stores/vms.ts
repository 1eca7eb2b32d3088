// Running and finished VMs: a VmInfo per id from listVms, kept current by vm-state events;
// console bytes routed to whichever console pane shows that VM; and the lifecycle actions,
// whose errors are kept per profile for its VM page. A state event may arrive before
// startVm() has returned the new id, so events for unknown ids are kept until then.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { VmId, VmInfo, VmStateEvent } from '../../../core/api/contract.js';
import { messageOf, vmm } from '../vmm.js';

export const FINAL_STATES: ReadonlySet<string> = new Set(['exited', 'failed']);

export function isActive(vm: VmInfo | undefined): boolean {
  return !!vm && !FINAL_STATES.has(vm.state);
}

/** Wait this long after an event for an unknown VM before asking for the list. */
const SYNC_DELAY_MS = 250;

export type ConsoleSink = (data: Uint8Array) => void;
type Action = 'start' | 'pause' | 'resume' | 'stop';

export const useVms = defineStore('vms', () => {
  const vms = ref<Record<VmId, VmInfo>>({});
  /** The failed request per profile ("Could not start: ..."), cleared by the next action. */
  const actionError = ref<Record<string, string>>({});
  /** The action in flight per profile, to disable the toolbar meanwhile. */
  const busy = ref<Record<string, Action>>({});
  const loadError = ref<string | null>(null);

  const early = new Map<VmId, VmStateEvent>();
  let starting = 0;
  let syncTimer: ReturnType<typeof setTimeout> | null = null;
  function syncSoon(): void {
    syncTimer ??= setTimeout(() => {
      syncTimer = null;
      if (starting === 0) void init();
    }, SYNC_DELAY_MS);
  }
  const sinks = new Map<VmId, Set<ConsoleSink>>();
  const unsubscribers: (() => void)[] = [];

  async function init(): Promise<void> {
    if (unsubscribers.length === 0) {
      const api = vmm();
      unsubscribers.push(api.onVmState(applyState));
      unsubscribers.push(api.onConsole(({ id, data }) => sinks.get(id)?.forEach((s) => s(data))));
    }
    try {
      for (const vm of await vmm().listVms()) vms.value[vm.id] = { ...vm, ...(vms.value[vm.id] ? pick(vms.value[vm.id]!) : {}) };
      for (const [id, e] of early) {
        if (!vms.value[id]) continue;
        early.delete(id);
        applyState(e);
      }
      loadError.value = null;
    } catch (e) {
      loadError.value = messageOf(e);
    }
  }

  // A state we already heard from an event is newer than the list's snapshot.
  const pick = (v: VmInfo) => ({ state: v.state, exit: v.exit, error: v.error });

  function applyState(e: VmStateEvent): void {
    const vm = vms.value[e.id];
    if (!vm) {
      early.set(e.id, e);
      // Started elsewhere (another window, the CLI's service)? Our own start fills it in.
      if (starting === 0) syncSoon();
      return;
    }
    vm.state = e.state;
    if (e.exit) vm.exit = e.exit;
    if (e.error) vm.error = e.error;
  }

  /** The VM to show on a profile's page: the active one, else the latest that ran. */
  function latestFor(profile: string): VmInfo | undefined {
    let best: VmInfo | undefined;
    for (const vm of Object.values(vms.value)) {
      if (vm.profile !== profile) continue;
      if (!best || (isActive(vm) && !isActive(best)) || (isActive(vm) === isActive(best) && vm.startedAt > best.startedAt)) best = vm;
    }
    return best;
  }

  async function run(profile: string, action: Action, fn: () => Promise<void>): Promise<boolean> {
    if (busy.value[profile]) return false;
    busy.value[profile] = action;
    delete actionError.value[profile];
    try {
      await fn();
      return true;
    } catch (e) {
      actionError.value[profile] = `Could not ${action} the VM: ${messageOf(e)}`;
      return false;
    } finally {
      delete busy.value[profile];
    }
  }

  /** Start a VM of `profile`; resolves to its id, or null (see actionError). */
  async function start(profile: string, platform: VmInfo['platform'] = 'kvm'): Promise<VmId | null> {
    let id: VmId | null = null;
    starting++;
    await run(profile, 'start', async () => {
      id = (await vmm().startVm(profile)).id;
      const seen = early.get(id);
      early.delete(id);
      vms.value[id] = {
        id,
        profile,
        platform,
        startedAt: Date.now(),
        state: seen?.state ?? 'starting',
        ...(seen?.exit ? { exit: seen.exit } : {}),
        ...(seen?.error ? { error: seen.error } : {}),
        ...(vms.value[id] ? pick(vms.value[id]!) : {}),
      };
    }).finally(() => starting--);
    return id;
  }

  const onVm = (action: Exclude<Action, 'start'>, call: (id: VmId) => Promise<void>) => (id: VmId) => {
    const vm = vms.value[id];
    return run(vm?.profile ?? id, action, () => call(id));
  };
  const pause = onVm('pause', (id) => vmm().pauseVm(id));
  const resume = onVm('resume', (id) => vmm().resumeVm(id));
  const stop = onVm('stop', (id) => vmm().stopVm(id));

  /** Route a VM's console output to `sink` until the returned function is called. */
  function attachConsole(id: VmId, sink: ConsoleSink): () => void {
    let set = sinks.get(id);
    if (!set) sinks.set(id, (set = new Set()));
    set.add(sink);
    return () => {
      set.delete(sink);
      if (set.size === 0) sinks.delete(id);
    };
  }

  function clearError(profile: string): void {
    delete actionError.value[profile];
  }

  function dispose(): void {
    unsubscribers.splice(0).forEach((u) => u());
  }

  return { vms, actionError, busy, loadError, init, applyState, latestFor, start, pause, resume, stop, attachConsole, clearError, dispose };
});
