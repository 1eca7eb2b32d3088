// Turning a recognised image into a profile: a new VM that boots a kernel image, or a
// virtio-blk disk added to an existing user profile. Both re-inspect the file, so what is
// saved matches what is on disk now, not what the UI was told earlier.
import { basename } from 'node:path';
import type { ProfileSummary } from '../api/contract.js';
import { DEFAULT_DEVICES } from '../machine/config.js';
import { ProfileError } from '../profiles/errors.js';
import { PROFILE_VERSION, type ProfileInput } from '../profiles/schema.js';
import { ImageError } from './errors.js';
import { inspectImage } from './images.js';
import type { ProfileLibrary } from './library.js';

/** A profile name from a file name: allowed characters only, starting with a letter or digit. */
export function nameFromFile(file: string): string {
  const stem = basename(file).replace(/\.(elf|img|bin|raw|iso)$/i, '');
  const clean = stem
    .replace(/[^\p{L}\p{N} ._:()+,#'-]+/gu, ' ')
    .replace(/^[^\p{L}\p{N}]+/u, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 50)
    .trimEnd();
  return clean || 'Imported kernel';
}

export async function createVmFromImage(library: ProfileLibrary, path: string, name?: string): Promise<ProfileSummary> {
  const image = await inspectImage(path);
  if (image.use !== 'kernel') {
    const what = image.use === 'disk' ? `${image.description}, a disk` : image.description;
    throw new ImageError(`${image.name} is ${what}, not a kernel irqbench can boot: ${image.hint ?? 'drop a kernel image'}`);
  }
  const linux = image.protocols.includes('bzimage');
  const profile: ProfileInput = {
    version: PROFILE_VERSION,
    name: name ?? (await library.uniqueName(nameFromFile(path))),
    description: `Boots ${image.name} (${image.description}).`,
    platform: 'kvm',
    // Lab guests are small; a Linux kernel needs room for its initramfs and page tables.
    cpus: linux ? 2 : 1,
    memoryMiB: linux ? 512 : 128,
    irqchip: 'kernel',
    boot: { kind: 'auto', kernel: path, cmdline: linux ? 'console=ttyS0 earlyprintk=serial,ttyS0,115200' : 'console=ttyS0' },
    devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
  };
  return library.save(profile);
}

export async function attachImage(library: ProfileLibrary, profileName: string, path: string): Promise<ProfileSummary> {
  const image = await inspectImage(path);
  if (image.use !== 'disk') {
    throw new ImageError(`${image.name} is ${image.description}, not a disk image: ${image.hint ?? 'drop a raw disk image or an ISO'}`);
  }
  const doc = await library.get(profileName);
  if (doc.source === 'builtin') {
    throw new ProfileError(`"${profileName}" is a built-in profile and cannot be changed; duplicate it, then attach the disk to the copy`);
  }
  const readonly = image.format === 'iso9660';
  const devices = [...(doc.profile.devices ?? DEFAULT_DEVICES.map((d) => ({ ...d })))];
  devices.push({ type: 'virtio-blk', image: path, ...(readonly && { readonly: true }) });
  return library.save({ ...doc.profile, devices }, profileName);
}
