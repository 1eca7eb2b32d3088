// VM state for the UI: the demo profile, and one session per VM id holding its lifecycle
// state and serial output. Events are recorded for any id, because main may report a VM
// before startVm() has returned its id to us.
import { defineStore } from 'pinia';
import { computed, reactive, ref } from 'vue';
import type { ProfileSummary, VmId, VmStateEvent } from '../../../core/api/contract.js';
import { messageOf, vmm } from '../vmm.js';

/** Keep the console's tail; a chatty guest must not grow the page without bound. */
const CONSOLE_MAX_CHARS = 200_000;
const FINAL_STATES = new Set(['exited', 'failed']);

export interface VmSession {
  state: string;
  exit?: VmStateEvent['exit'];
  error?: string;
  console: string;
}

export const useVmStore = defineStore('vm', () => {
  const demo = ref<ProfileSummary | null>(null);
  const profileError = ref<string | null>(null);
  const requestError = ref<string | null>(null);
  const busy = ref(false);
  const currentId = ref<VmId | null>(null);
  const sessions = reactive(new Map<VmId, VmSession>());
  const decoders = new Map<VmId, TextDecoder>();

  const current = computed(() => (currentId.value ? sessions.get(currentId.value) : undefined));
  const active = computed(() => !!current.value && !FINAL_STATES.has(current.value.state));

  const session = (id: VmId): VmSession => {
    let s = sessions.get(id);
    if (!s) {
      s = { state: 'starting', console: '' };
      sessions.set(id, s);
    }
    return sessions.get(id)!;
  };

  let initialized = false;
  async function init(): Promise<void> {
    if (initialized) return;
    initialized = true;
    try {
      const api = vmm();
      api.onVmState((e) => Object.assign(session(e.id), { state: e.state, exit: e.exit, error: e.error }));
      api.onConsole(({ id, data }) => {
        let decoder = decoders.get(id);
        if (!decoder) decoders.set(id, (decoder = new TextDecoder()));
        const s = session(id);
        s.console = (s.console + decoder.decode(data, { stream: true }).replaceAll('\r', '')).slice(-CONSOLE_MAX_CHARS);
      });
      demo.value = await api.getDemoProfile();
    } catch (e) {
      profileError.value = messageOf(e);
    }
  }

  async function start(): Promise<void> {
    if (!demo.value || busy.value) return;
    busy.value = true;
    requestError.value = null;
    try {
      currentId.value = (await vmm().startVm(demo.value.name)).id;
    } catch (e) {
      requestError.value = messageOf(e);
    } finally {
      busy.value = false;
    }
  }

  async function stop(): Promise<void> {
    if (!currentId.value || busy.value) return;
    busy.value = true;
    requestError.value = null;
    try {
      await vmm().stopVm(currentId.value);
    } catch (e) {
      requestError.value = messageOf(e);
    } finally {
      busy.value = false;
    }
  }

  return { demo, profileError, requestError, busy, currentId, current, active, init, start, stop };
});
