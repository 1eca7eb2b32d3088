// Where the user is: a VM page (one profile, one tab), the editor for a new VM, or Settings.
// Kept apart from the data stores so selection never depends on a request finishing.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ProfileInput } from '../../../core/profiles/schema.js';

export const VM_TABS = ['console', 'devices', 'routing', 'xen', 'dashboard', 'profile'] as const;
export type VmTab = (typeof VM_TABS)[number];

export type View =
  | { kind: 'home' }
  | { kind: 'vm'; profile: string; tab: VmTab }
  | { kind: 'new'; draft: ProfileInput }
  | { kind: 'settings' };

export const useNav = defineStore('nav', () => {
  const view = ref<View>({ kind: 'home' });
  /** The last tab per profile, so coming back to a VM shows what the user left open. */
  const lastTab = new Map<string, VmTab>();

  const selectedProfile = computed(() => (view.value.kind === 'vm' ? view.value.profile : null));

  function openVm(profile: string, tab?: VmTab): void {
    const t = tab ?? lastTab.get(profile) ?? 'console';
    lastTab.set(profile, t);
    view.value = { kind: 'vm', profile, tab: t };
  }

  function setTab(tab: VmTab): void {
    if (view.value.kind !== 'vm') return;
    lastTab.set(view.value.profile, tab);
    view.value = { ...view.value, tab };
  }

  function openNew(draft: ProfileInput): void {
    view.value = { kind: 'new', draft };
  }

  function openSettings(): void {
    view.value = { kind: 'settings' };
  }

  function home(): void {
    view.value = { kind: 'home' };
  }

  /** A profile was renamed or deleted: keep the page pointing at something that exists. */
  function profileRenamed(from: string, to: string | null): void {
    if (view.value.kind !== 'vm' || view.value.profile !== from) return;
    if (to === null) home();
    else openVm(to, view.value.tab);
  }

  return { view, selectedProfile, openVm, setTab, openNew, openSettings, home, profileRenamed };
});
