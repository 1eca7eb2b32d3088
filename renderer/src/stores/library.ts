// The VM library: profile summaries and broken profile files from the service, refreshed
// whenever the service says the profiles folder changed (our own saves included, and files
// edited by hand). Mutations return the service's answer and let errors propagate, so the
// dialog or editor that asked can show them where they belong.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ProfileList, ProfileSummary } from '../../../core/api/contract.js';
import { messageOf, vmm } from '../vmm.js';

export const useLibrary = defineStore('library', () => {
  const profiles = ref<ProfileSummary[]>([]);
  const broken = ref<ProfileList['broken']>([]);
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<string | null>(null);

  const builtins = computed(() => profiles.value.filter((p) => p.source === 'builtin'));
  const userProfiles = computed(() => profiles.value.filter((p) => p.source === 'user'));
  const names = computed(() => new Set(profiles.value.map((p) => p.name)));

  let unsubscribe: (() => void) | null = null;
  let inflight: Promise<void> | null = null;
  let again = false;

  function init(): Promise<void> {
    if (!unsubscribe) unsubscribe = vmm().onProfilesChanged(() => void refresh());
    return refresh();
  }

  /** Coalesces bursts of change events: at most one request in flight and one queued. */
  function refresh(): Promise<void> {
    if (inflight) {
      again = true;
      return inflight;
    }
    inflight = (async () => {
      loading.value = true;
      try {
        do {
          again = false;
          try {
            const list = await vmm().listProfiles();
            profiles.value = list.profiles;
            broken.value = list.broken;
            error.value = null;
            loaded.value = true;
          } catch (e) {
            error.value = messageOf(e);
          }
        } while (again);
      } finally {
        loading.value = false;
        inflight = null;
      }
    })();
    return inflight;
  }

  function byName(name: string): ProfileSummary | undefined {
    return profiles.value.find((p) => p.name === name);
  }

  /** A name not yet taken: "base", "base 2", "base 3", ... */
  function freeName(base: string): string {
    if (!names.value.has(base)) return base;
    for (let i = 2; ; i++) if (!names.value.has(`${base} ${i}`)) return `${base} ${i}`;
  }

  async function save(profile: unknown, previousName?: string): Promise<ProfileSummary> {
    const saved = await vmm().saveProfile(profile, previousName);
    upsert(saved, previousName);
    return saved;
  }

  async function duplicate(name: string, newName: string): Promise<ProfileSummary> {
    const copy = await vmm().duplicateProfile(name, newName);
    upsert(copy);
    return copy;
  }

  async function remove(name: string): Promise<void> {
    await vmm().deleteProfile(name);
    profiles.value = profiles.value.filter((p) => p.name !== name);
  }

  /** Show a result at once; the change event's refresh brings the authoritative list. */
  function upsert(p: ProfileSummary, previousName?: string): void {
    const rest = profiles.value.filter((x) => x.name !== p.name && x.name !== previousName);
    profiles.value = [...rest, p].sort((a, b) => (a.source === b.source ? a.name.localeCompare(b.name) : a.source === 'builtin' ? -1 : 1));
  }

  function dispose(): void {
    unsubscribe?.();
    unsubscribe = null;
  }

  return { profiles, broken, loading, loaded, error, builtins, userProfiles, init, refresh, byName, freeName, save, duplicate, remove, upsert, dispose };
});
