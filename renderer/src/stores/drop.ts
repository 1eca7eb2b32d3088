// Guest images dropped on the window: each file is imported (the service detects what it
// is), then the user picks what to do with it; a file leaves the list once it is used. A kernel goes "Create and start" in one
// click: create the VM from it, start it, and land on its console.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { ImportedImage } from '../../../core/api/contract.js';
import { imageSourceFor } from '../lib/image-source.js';
import { messageOf, pathForFile, vmm } from '../vmm.js';
import { useLibrary } from './library.js';
import { useNav } from './nav.js';
import { useNotifications } from './notifications.js';
import { useVms } from './vms.js';

export interface DropItem {
  key: number;
  fileName: string;
  status: 'importing' | 'ready' | 'failed';
  image?: ImportedImage;
  /** Why the import failed. */
  error?: string;
  /** The action in flight ("create", "start", "attach"). */
  busy?: string;
  /** Why the last action failed. */
  actionError?: string;
}

export const useDrop = defineStore('drop', () => {
  const items = ref<DropItem[]>([]);
  let nextKey = 1;

  /** Import every file; resolves when all have an answer. */
  async function handleFiles(files: readonly File[]): Promise<void> {
    await Promise.all(files.map((f) => importOne(f)));
  }

  function importOne(file: File): Promise<void> {
    return track(file.name, async () => vmm().importImage(await imageSourceFor(file, pathForFile(vmm(), file))));
  }

  /** A file chosen through the desktop app's File > Import Image… menu. */
  function importPath(path: string): Promise<void> {
    return track(path.split('/').pop() || path, () => vmm().importImage({ kind: 'path', path }));
  }

  async function track(fileName: string, load: () => Promise<ImportedImage>): Promise<void> {
    const key = nextKey++;
    items.value = [...items.value, { key, fileName, status: 'importing' }];
    const item = () => items.value.find((i) => i.key === key);
    try {
      const image = await load();
      Object.assign(item() ?? {}, { status: 'ready', image });
    } catch (e) {
      Object.assign(item() ?? {}, { status: 'failed', error: messageOf(e) });
    }
  }

  async function act(item: DropItem, busy: string, fn: (image: ImportedImage) => Promise<string>): Promise<boolean> {
    const live = items.value.find((i) => i.key === item.key);
    if (!live?.image || live.busy) return false;
    live.busy = busy;
    delete live.actionError;
    try {
      // Done with this file: the result is where the user lands, the notice says what happened.
      useNotifications().success(await fn(live.image));
      dismiss(live);
      return true;
    } catch (e) {
      live.actionError = messageOf(e);
      return false;
    } finally {
      delete live.busy;
    }
  }

  /** One click from a dropped kernel to its console. */
  function createAndStart(item: DropItem): Promise<boolean> {
    return act(item, 'create', async (image) => {
      const summary = await vmm().createVmFromImage(image.path);
      useLibrary().upsert(summary);
      const nav = useNav();
      nav.openVm(summary.name, 'console');
      // A start failure shows on the VM's page (vms.actionError), where the user now is.
      const id = await useVms().start(summary.name, summary.platform);
      return id ? `Created "${summary.name}" and started it.` : `Created "${summary.name}"; it did not start (see its page).`;
    });
  }

  function createOnly(item: DropItem): Promise<boolean> {
    return act(item, 'create', async (image) => {
      const summary = await vmm().createVmFromImage(image.path);
      useLibrary().upsert(summary);
      useNav().openVm(summary.name, 'profile');
      return `Created "${summary.name}".`;
    });
  }

  function attach(item: DropItem, profile: string): Promise<boolean> {
    return act(item, 'attach', async (image) => {
      const summary = await vmm().attachImage(profile, image.path);
      useLibrary().upsert(summary);
      return `Attached ${image.name} to "${summary.name}" as a virtio-blk disk.`;
    });
  }

  function dismiss(item: DropItem): void {
    items.value = items.value.filter((i) => i.key !== item.key);
  }

  function clear(): void {
    items.value = items.value.filter((i) => i.status === 'importing' || i.busy);
  }

  return { items, handleFiles, importPath, createAndStart, createOnly, attach, dismiss, clear };
});
