// What each request does, without Electron: the profile library and the VMs. Summaries
// leave out everything the renderer does not need (device lists, resolved paths).
import { Channels, type ProfileList, type ProfileSummary, type VmId } from '../core/api/contract.js';
import { findProfile, loadCatalog, type CatalogEntry } from '../core/profiles/catalog.js';
import { packageRoot } from '../core/paths.js';
import { demoProfile } from '../core/profiles/demo.js';
import { assertBootFiles, resolveProfile } from '../core/profiles/store.js';
import type { Handlers } from './ipc.js';
import type { VmManager } from './vms.js';

export function summarize({ profile, source, file }: CatalogEntry): ProfileSummary {
  return {
    name: profile.name,
    ...(profile.description !== undefined && { description: profile.description }),
    platform: profile.platform,
    cpus: profile.cpus,
    memoryMiB: profile.memoryMiB,
    irqchip: profile.irqchip,
    bootKind: profile.boot.kind,
    kernel: profile.boot.kernel,
    cmdline: profile.boot.cmdline,
    source,
    ...(file !== undefined && { file }),
  };
}

export function createHandlers(opts: { profileDir: string | undefined; vms: VmManager }): Handlers {
  return {
    async [Channels.listProfiles](): Promise<ProfileList> {
      const catalog = await loadCatalog(opts.profileDir);
      return {
        profiles: catalog.entries.map(summarize),
        broken: catalog.broken.map((b) => ({ file: b.file, error: b.error.message })),
      };
    },
    async [Channels.getDemoProfile](): Promise<ProfileSummary> {
      return summarize({ profile: demoProfile(), dir: packageRoot(), source: 'builtin' });
    },
    async [Channels.startVm](name: string): Promise<{ id: VmId }> {
      const entry = findProfile(await loadCatalog(opts.profileDir), name);
      const config = resolveProfile(entry.profile, entry.dir);
      await assertBootFiles(config);
      return { id: opts.vms.start(config) };
    },
    async [Channels.stopVm](id: VmId): Promise<void> {
      opts.vms.stop(id);
    },
  };
}
