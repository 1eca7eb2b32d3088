// One handler per request channel of the contract: what the app does, without any
// transport. Electron's IPC and the browser bridge both dispatch here (service.ts) after
// validating the arguments with core/api/schemas.ts.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Channels, type RequestChannel, type Requests } from '../api/contract.js';
import { MSIX_VECTORS_MAX } from '../api/schemas.js';
import type { MachineConfig } from '../machine/config.js';
import { ProfileError } from '../profiles/errors.js';
import { assertBootFiles, resolveProfile } from '../profiles/store.js';
import { attachImage, createVmFromImage } from './image-profiles.js';
import { importImage } from './images.js';
import type { ProfileLibrary } from './library.js';
import type { SettingsStore } from './settings.js';
import type { VmSupervisor } from './supervisor.js';

export type Handlers = {
  [C in RequestChannel]: (...args: Requests[C]['args']) => Promise<Requests[C]['result']>;
};

export interface HandlerContext {
  library: ProfileLibrary;
  vms: VmSupervisor;
  settings: SettingsStore;
  /** Called after the settings changed (re-watch the profiles folder). */
  onSettingsChanged?(): void | Promise<void>;
}

export const IMAGES_SUBDIR = 'images';

/** Disks are opened by the VM host; a missing one should fail here, with the profile named. */
async function assertDiskImages(config: MachineConfig): Promise<void> {
  for (const d of config.devices) {
    if (d.type !== 'virtio-blk' || d.image === undefined) continue;
    try {
      await access(d.image);
    } catch (cause) {
      throw new ProfileError(`profile "${config.name}": disk image ${d.image} not found; attach it again or remove the disk from the profile`, {
        file: d.image,
        cause,
      });
    }
  }
}

export function createHandlers(ctx: HandlerContext): Handlers {
  const { library, vms, settings } = ctx;
  const encoder = new TextEncoder();
  return {
    [Channels.listProfiles]: () => library.list(),
    [Channels.getProfile]: (name) => library.get(name),
    [Channels.saveProfile]: (profile, previousName) => library.save(profile, previousName),
    [Channels.duplicateProfile]: (name, newName) => library.duplicate(name, newName),
    [Channels.deleteProfile]: (name) => library.delete(name),
    [Channels.getDemoProfile]: async () => library.demo(),
    [Channels.importImage]: (source) => importImage(source, join(library.folder, IMAGES_SUBDIR)),
    [Channels.createVmFromImage]: (path, name) => createVmFromImage(library, path, name),
    [Channels.attachImage]: (profile, path) => attachImage(library, profile, path),
    [Channels.listVms]: async () => vms.list(),
    async [Channels.startVm](name) {
      const entry = await library.entry(name);
      const config = resolveProfile(entry.profile, entry.dir);
      await assertBootFiles(config);
      await assertDiskImages(config);
      return { id: vms.start(config) };
    },
    [Channels.pauseVm]: async (id) => void (await vms.call(id, 'pause', [])),
    [Channels.resumeVm]: async (id) => void (await vms.call(id, 'resume', [])),
    // Stopping takes up to the stop timeout; the UI follows it through state events.
    [Channels.stopVm]: async (id) => void vms.stop(id),
    [Channels.sendConsole]: async (id, data) => vms.sendConsole(id, encoder.encode(data)),
    [Channels.consoleBacklog]: async (id) => vms.consoleBacklog(id),
    [Channels.statsSnapshot]: (id) => vms.statsSnapshot(id),
    [Channels.msixTable]: (id, device, first = 0, count = MSIX_VECTORS_MAX - first) =>
      vms.call(id, 'msixTable', [device, first, Math.max(1, count)]),
    [Channels.setVectorMask]: async (id, device, vector, masked) => void (await vms.call(id, 'setVectorMask', [device, vector, masked])),
    [Channels.fireVector]: async (id, device, vector, count = 1) => void (await vms.call(id, 'fireVector', [device, vector, count])),
    [Channels.routingTable]: (id) => vms.call(id, 'routingTable', []),
    [Channels.xenPorts]: (id) => vms.call(id, 'xenPorts', []),
    [Channels.xenPirqs]: (id) => vms.call(id, 'xenPirqs', []),
    [Channels.xenSend]: async (id, port) => void (await vms.call(id, 'xenSend', [port])),
    [Channels.xenBindVcpu]: async (id, port, vcpu) => void (await vms.call(id, 'xenBindVcpu', [port, vcpu])),
    [Channels.xenSetPortMask]: async (id, port, masked) => void (await vms.call(id, 'xenSetPortMask', [port, masked])),
    [Channels.irqState]: (id) => vms.call(id, 'irqState', []),
    [Channels.getSettings]: async () => settings.get(),
    async [Channels.setSettings](next) {
      const saved = await settings.set(next);
      await ctx.onSettingsChanged?.();
      return saved;
    },
  };
}
