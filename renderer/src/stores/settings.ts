// App settings (the profiles folder). Load and save errors are kept for the Settings page to
// show beside the field they concern.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { Settings } from '../../../core/api/contract.js';
import { messageOf, vmm } from '../vmm.js';

export const useSettings = defineStore('settings', () => {
  const settings = ref<Settings | null>(null);
  const loading = ref(false);
  const saving = ref(false);
  const loadError = ref<string | null>(null);
  const saveError = ref<string | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    loadError.value = null;
    try {
      settings.value = await vmm().getSettings();
    } catch (e) {
      loadError.value = messageOf(e);
    } finally {
      loading.value = false;
    }
  }

  /** True when saved; otherwise saveError says why. */
  async function save(next: Settings): Promise<boolean> {
    saving.value = true;
    saveError.value = null;
    try {
      settings.value = await vmm().setSettings(next);
      return true;
    } catch (e) {
      saveError.value = messageOf(e);
      return false;
    } finally {
      saving.value = false;
    }
  }

  return { settings, loading, saving, loadError, saveError, load, save };
});
