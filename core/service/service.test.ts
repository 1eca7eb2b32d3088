// The app service over temp folders: the profile library (save, rename, duplicate, delete,
// broken files), images (bytes and paths, qcow2, garbage), VMs from images, settings and
// the folder watcher, all through dispatch() as the transports call it.
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Channels, Events, type Reply } from '../api/contract.js';
import { labGuestPath } from '../profiles/demo.js';
import { QCOW2_HINT } from './images.js';
import { AppService } from './service.js';

let dir: string;
let service: AppService;
let forks: { name: string; sent: unknown[] }[];
let events: [string, unknown][];

const profilesDir = () => join(dir, 'profiles');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'irqbench-service-'));
  forks = [];
  events = [];
  service = await AppService.create({
    configDir: dir,
    log: () => undefined,
    stopTimeoutMs: 50,
    forkHost: (name) => {
      const host = Object.assign(new EventEmitter(), { name, sent: [] as unknown[], postMessage: (m: unknown) => host.sent.push(m), kill: () => true });
      forks.push(host);
      return host;
    },
  });
  service.subscribe((ch, p) => events.push([ch, p]));
});
afterEach(async () => {
  await service.shutdown();
  await rm(dir, { recursive: true, force: true });
});

async function call(channel: string, ...args: unknown[]): Promise<any> {
  const reply = (await service.dispatch(channel, args)) as Reply<unknown>;
  if (!reply.ok) throw Object.assign(new Error(reply.error.message), reply.error);
  return reply.value;
}
const fails = (channel: string, ...args: unknown[]) => service.dispatch(channel, args) as Promise<Reply<unknown>>;

const profile = (name: string, extra: object = {}) => ({ version: 1, name, platform: 'kvm', cpus: 1, memoryMiB: 64, boot: { kernel: 'k.elf' }, ...extra });
const userNames = async () => (await call(Channels.listProfiles)).profiles.filter((p: any) => p.source === 'user').map((p: any) => p.name);

describe('profile library', () => {
  it('saves new profiles under names derived from theirs and lists them with the built-ins', async () => {
    const saved = await call(Channels.saveProfile, profile('My VM: test #1', { devices: [{ type: 'irq-lab', msix: { vectors: 2048, pbaOffset: 0x10000 } }] }));
    expect(saved).toMatchObject({ name: 'My VM: test #1', source: 'user', file: join(profilesDir(), 'my-vm-test-1.json'), devices: ['irq-lab (2048 MSI-X)'] });
    const list = await call(Channels.listProfiles);
    expect(list.profiles[0]).toMatchObject({ name: 'Interrupt Lab: hello', source: 'builtin' });
    expect(await userNames()).toEqual(['My VM: test #1']);
    expect(JSON.parse(await readFile(saved.file, 'utf8'))).toMatchObject({ name: 'My VM: test #1', irqchip: 'kernel' });
  });

  it('refuses invalid profiles with field issues, and names taken by built-ins or others', async () => {
    const bad = await fails(Channels.saveProfile, { ...profile('x'), cpus: 0, extra: 1 });
    expect(bad).toMatchObject({ ok: false, error: { name: 'ProfileError' } });
    expect(!bad.ok && bad.error.issues).toEqual(
      expect.arrayContaining([
        { path: 'cpus', message: 'must be at least 1' },
        { path: 'extra', message: 'unknown field' },
      ]),
    );
    expect(await fails(Channels.saveProfile, profile('Interrupt Lab: hello'))).toMatchObject({
      ok: false,
      error: { issues: [{ path: 'name', message: 'belongs to a built-in profile' }] },
    });
    await call(Channels.saveProfile, profile('Mine'));
    expect(await fails(Channels.saveProfile, profile('Mine'))).toMatchObject({ ok: false, error: { message: expect.stringContaining('already taken') } });
  });

  it('edits in place, renames through previousName and never touches built-ins', async () => {
    const first = await call(Channels.saveProfile, profile('Alpha'));
    const edited = await call(Channels.saveProfile, profile('Alpha', { cpus: 4 }), 'Alpha');
    expect(edited).toMatchObject({ file: first.file, cpus: 4 });
    const renamed = await call(Channels.saveProfile, profile('Beta', { cpus: 4 }), 'Alpha');
    expect(renamed.file).toBe(join(profilesDir(), 'beta.json'));
    expect(await readdir(profilesDir())).not.toContain('alpha.json');
    expect(await userNames()).toEqual(['Beta']);
    await call(Channels.saveProfile, profile('Gamma'));
    expect(await fails(Channels.saveProfile, profile('Gamma'), 'Beta')).toMatchObject({ ok: false, error: { message: expect.stringContaining('already taken') } });
    expect(await fails(Channels.saveProfile, profile('Hello 2'), 'Interrupt Lab: hello')).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('built-in profile and cannot be changed') },
    });
    expect(await fails(Channels.saveProfile, profile('X'), 'Nobody')).toMatchObject({ ok: false, error: { name: 'ProfileError' } });
  });

  it('duplicates built-in and user profiles and deletes user profiles only', async () => {
    const copy = await call(Channels.duplicateProfile, 'Interrupt Lab: hello', 'My hello');
    expect(copy).toMatchObject({ name: 'My hello', source: 'user', kernel: labGuestPath('hello'), cpus: 2 });
    await call(Channels.duplicateProfile, 'My hello', 'My hello 2');
    expect(await fails(Channels.duplicateProfile, 'My hello', 'My hello 2')).toMatchObject({ ok: false });
    expect((await userNames()).sort()).toEqual(['My hello', 'My hello 2']);
    await call(Channels.deleteProfile, 'My hello');
    expect(await userNames()).toEqual(['My hello 2']);
    expect(await fails(Channels.deleteProfile, 'Interrupt Lab: hello')).toMatchObject({ ok: false, error: { message: expect.stringContaining('cannot be deleted') } });
    expect(await fails(Channels.deleteProfile, 'My hello')).toMatchObject({ ok: false, error: { message: expect.stringContaining('no profile named') } });
  });

  it('lists hand-broken files with their error and never overwrites them', async () => {
    await mkdir(profilesDir(), { recursive: true });
    const broken = '{ "version": 1, "name": "Mine", "cpus": 0 ';
    await writeFile(join(profilesDir(), 'mine.json'), broken);
    const list = await call(Channels.listProfiles);
    expect(list.broken).toEqual([{ file: join(profilesDir(), 'mine.json'), error: expect.stringContaining('invalid JSON at line 1') }]);
    const saved = await call(Channels.saveProfile, profile('Mine'));
    expect(saved.file).toBe(join(profilesDir(), 'mine-2.json'));
    expect(await readFile(join(profilesDir(), 'mine.json'), 'utf8')).toBe(broken);
  });

  it('gives the editor the file as written, defaults absent', async () => {
    await mkdir(profilesDir(), { recursive: true });
    await writeFile(join(profilesDir(), 'hand.json'), JSON.stringify(profile('Hand')));
    expect(await call(Channels.getProfile, 'Hand')).toEqual({ profile: profile('Hand'), source: 'user', file: join(profilesDir(), 'hand.json') });
    expect(await call(Channels.getProfile, 'Interrupt Lab: hello')).toMatchObject({ source: 'builtin', profile: { cpus: 2 } });
  });

  it('announces changes of the folder, debounced', async () => {
    await writeFile(join(profilesDir(), 'a.json'), JSON.stringify(profile('A')));
    await writeFile(join(profilesDir(), 'b.json'), JSON.stringify(profile('B')));
    await vi.waitFor(() => expect(events.filter(([ch]) => ch === Events.profilesChanged)).toHaveLength(1), { timeout: 2000 });
  });
});

const MBR = (() => {
  const b = new Uint8Array(4096);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
})();
const ISO = (() => {
  const b = new Uint8Array(0x9000);
  b.set(new TextEncoder().encode('CD001'), 0x8001);
  return b;
})();
const QCOW2 = new Uint8Array([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);

describe('images', () => {
  it('stores dropped bytes under images/ with safe, unique names and recognises kernels', async () => {
    const elf = new Uint8Array(await readFile(labGuestPath('hello')));
    const a = await call(Channels.importImage, { kind: 'bytes', name: 'hello.elf', data: elf });
    expect(a).toMatchObject({ path: join(profilesDir(), 'images', 'hello.elf'), size: elf.length, format: 'elf', use: 'kernel', protocols: expect.arrayContaining(['pvh']) });
    const b = await call(Channels.importImage, { kind: 'bytes', name: 'hello.elf', data: elf });
    expect(b.path).toBe(join(profilesDir(), 'images', 'hello-2.elf'));
    const sneaky = await call(Channels.importImage, { kind: 'bytes', name: '../../.bashrc', data: MBR });
    expect(sneaky).toMatchObject({ path: join(profilesDir(), 'images', 'bashrc'), use: 'disk' });
    expect((await readdir(join(profilesDir(), 'images'))).sort()).toEqual(['bashrc', 'hello-2.elf', 'hello.elf']);
  });

  it('says what to do with qcow2, garbage and missing files', async () => {
    const q = await call(Channels.importImage, { kind: 'bytes', name: 'disk.qcow2', data: QCOW2 });
    expect(q).toMatchObject({ format: 'qcow2', use: 'none', hint: QCOW2_HINT });
    const junk = await call(Channels.importImage, { kind: 'bytes', name: 'notes.txt', data: new TextEncoder().encode('hello world, not a kernel') });
    expect(junk).toMatchObject({ format: 'unknown', use: 'none', hint: expect.stringContaining('expected a Linux bzImage') });
    expect(await fails(Channels.importImage, { kind: 'path', path: join(dir, 'nope.img') })).toMatchObject({
      ok: false,
      error: { name: 'ImageError', message: expect.stringContaining('check that the file exists') },
    });
    expect(await fails(Channels.importImage, { kind: 'path', path: 'relative.img' })).toMatchObject({ ok: false, error: { name: 'ImageError' } });
    expect(await fails(Channels.importImage, { kind: 'path', path: dir })).toMatchObject({ ok: false, error: { message: expect.stringContaining('not a regular file') } });
    expect(await fails(Channels.importImage, { kind: 'bytes', name: 'x', data: 'AAAA' })).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
  });

  it('recognises images by path: kernels, raw disks and ISOs', async () => {
    await writeFile(join(dir, 'disk.img'), MBR);
    await writeFile(join(dir, 'cd.iso'), ISO);
    expect(await call(Channels.importImage, { kind: 'path', path: labGuestPath('hello') })).toMatchObject({ name: 'hello.elf', use: 'kernel' });
    expect(await call(Channels.importImage, { kind: 'path', path: join(dir, 'disk.img') })).toMatchObject({ format: 'mbr-disk', use: 'disk' });
    expect(await call(Channels.importImage, { kind: 'path', path: join(dir, 'cd.iso') })).toMatchObject({ format: 'iso9660', use: 'disk', hint: expect.stringContaining('read-only') });
  });

  it('creates VMs booting a kernel, with unique names, and refuses non-kernels', async () => {
    const vm = await call(Channels.createVmFromImage, labGuestPath('hello'));
    expect(vm).toMatchObject({ name: 'hello', source: 'user', kernel: labGuestPath('hello'), cpus: 1, memoryMiB: 128, bootKind: 'auto' });
    expect((await call(Channels.createVmFromImage, labGuestPath('hello'))).name).toBe('hello (2)');
    expect((await call(Channels.createVmFromImage, labGuestPath('hello'), 'Greeter')).name).toBe('Greeter');
    await writeFile(join(dir, 'disk.img'), MBR);
    expect(await fails(Channels.createVmFromImage, join(dir, 'disk.img'))).toMatchObject({ ok: false, error: { name: 'ImageError', message: expect.stringContaining('not a kernel') } });
  });

  it('attaches disks to user profiles (ISOs read-only), not to built-ins', async () => {
    await writeFile(join(dir, 'disk.img'), MBR);
    await writeFile(join(dir, 'cd.iso'), ISO);
    await call(Channels.saveProfile, profile('Box'));
    await call(Channels.attachImage, 'Box', join(dir, 'disk.img'));
    const box = await call(Channels.attachImage, 'Box', join(dir, 'cd.iso'));
    expect(box.devices.slice(-2)).toEqual(['virtio-blk', 'virtio-blk (read-only)']);
    expect(box.devices).toContain('uart16550 (0x3f8, IRQ 4)');
    const doc = await call(Channels.getProfile, 'Box');
    expect(doc.profile.devices.slice(-2)).toEqual([
      { type: 'virtio-blk', image: join(dir, 'disk.img') },
      { type: 'virtio-blk', image: join(dir, 'cd.iso'), readonly: true },
    ]);
    expect(await fails(Channels.attachImage, 'Interrupt Lab: hello', join(dir, 'disk.img'))).toMatchObject({ ok: false, error: { message: expect.stringContaining('duplicate it') } });
    expect(await fails(Channels.attachImage, 'Box', labGuestPath('hello'))).toMatchObject({ ok: false, error: { message: expect.stringContaining('not a disk image') } });
  });
});

describe('settings and VMs', () => {
  it('persists the profiles folder and reads the library from it', async () => {
    expect(await call(Channels.getSettings)).toEqual({ profilesDir: profilesDir() });
    expect(await fails(Channels.setSettings, { profilesDir: 'relative' })).toMatchObject({ ok: false, error: { name: 'SettingsError' } });
    const other = join(dir, 'elsewhere');
    expect(await call(Channels.setSettings, { profilesDir: other })).toEqual({ profilesDir: other });
    await call(Channels.saveProfile, profile('There'));
    expect(await readdir(other)).toEqual(['there.json']);
    expect(JSON.parse(await readFile(join(dir, 'settings.json'), 'utf8'))).toEqual({ profilesDir: other });
    const again = await AppService.create({ configDir: dir, forkHost: () => { throw new Error('unused'); } });
    expect(again.settings.get()).toEqual({ profilesDir: other });
    await again.shutdown();
  });

  it('starts a profile in a host, checks its files first, and validates every request', async () => {
    expect(await call(Channels.startVm, 'Interrupt Lab: hello')).toEqual({ id: 'vm-1' });
    expect(forks[0]!.sent[0]).toMatchObject({ type: 'start', config: { name: 'Interrupt Lab: hello', cpus: 2 } });
    expect(await call(Channels.listVms)).toMatchObject([{ id: 'vm-1', state: 'starting' }]);
    await call(Channels.saveProfile, profile('Diskless', { boot: { kernel: labGuestPath('hello') }, devices: [{ type: 'virtio-blk', image: 'gone.img' }] }));
    expect(await fails(Channels.startVm, 'Diskless')).toMatchObject({ ok: false, error: { message: expect.stringContaining('gone.img not found') } });
    expect(await fails(Channels.pauseVm, 'vm-9')).toMatchObject({ ok: false, error: { name: 'VmNotFoundError' } });
    expect(await fails(Channels.msixTable, 'vm-1', 'irq-lab0', 4096)).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    expect(await fails('vmm:no-such-thing')).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    expect(await fails('__proto__')).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    await call(Channels.sendConsole, 'vm-1', 'hé');
    expect(forks[0]!.sent.at(-1)).toEqual({ type: 'console-in', data: new TextEncoder().encode('hé') });
    expect(events).toContainEqual([Events.vmState, { id: 'vm-1', state: 'starting' }]);
  });
});
