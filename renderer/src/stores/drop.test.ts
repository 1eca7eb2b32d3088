import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_UPLOAD_BYTES, type ImportedImage, type VmmApi } from '../../../core/api/contract.js';
import { fakeApi, summary, type FakeApi } from '../test-utils/fake-api.js';
import { setApi } from '../vmm.js';
import { useDrop } from './drop.js';
import { useNav } from './nav.js';
import { useNotifications } from './notifications.js';
import { useVms } from './vms.js';

let fake: FakeApi;
beforeEach(() => {
  setActivePinia(createPinia());
  fake = fakeApi();
  setApi(fake.api);
});

const kernel: ImportedImage = {
  path: '/p/images/hello.elf',
  name: 'hello.elf',
  size: 4096,
  format: 'elf',
  description: 'ELF64 x86-64 kernel with a PVH entry note',
  use: 'kernel',
  protocols: ['pvh'],
};
const file = (name: string, bytes: number[]) => new File([new Uint8Array(bytes)], name);

describe('drop store', () => {
  it('sends the bytes in browser mode and shows what the file is', async () => {
    fake.calls.importImage!.mockResolvedValueOnce(kernel);
    const drop = useDrop();
    await drop.handleFiles([file('hello.elf', [0x7f, 0x45, 0x4c, 0x46])]);
    expect(fake.calls.importImage!).toHaveBeenCalledWith({ kind: 'bytes', name: 'hello.elf', data: new Uint8Array([0x7f, 0x45, 0x4c, 0x46]) });
    expect(drop.items[0]).toMatchObject({ status: 'ready', image: kernel });
  });

  it('sends the path when Electron can tell it', async () => {
    (fake.api as { pathForFile?: VmmApi['pathForFile'] }).pathForFile = (f) => `/home/u/${(f as File).name}`;
    fake.calls.importImage!.mockResolvedValueOnce(kernel);
    await useDrop().handleFiles([file('hello.elf', [1])]);
    expect(fake.calls.importImage!).toHaveBeenCalledWith({ kind: 'path', path: '/home/u/hello.elf' });
  });

  it('imports a file chosen in the application menu by its path', async () => {
    fake.calls.importImage!.mockResolvedValueOnce(kernel);
    const drop = useDrop();
    await drop.importPath('/home/u/guests/hello.elf');
    expect(fake.calls.importImage!).toHaveBeenCalledWith({ kind: 'path', path: '/home/u/guests/hello.elf' });
    expect(drop.items[0]).toMatchObject({ fileName: 'hello.elf', status: 'ready' });
  });

  it('refuses files over the upload limit without reading them, and handles each file', async () => {
    const big = file('huge.img', [0]);
    Object.defineProperty(big, 'size', { value: MAX_UPLOAD_BYTES + 1 });
    fake.calls.importImage!.mockRejectedValueOnce(new Error('notes.txt is not a guest image: text file. Drop a kernel (ELF, bzImage) or a disk image.'));
    const drop = useDrop();
    await drop.handleFiles([big, file('notes.txt', [0x68])]);
    expect(drop.items).toHaveLength(2);
    expect(drop.items[0]).toMatchObject({ fileName: 'huge.img', status: 'failed' });
    expect(drop.items[0]!.error).toMatch(/uploads at most 512 MiB/);
    expect(drop.items[1]).toMatchObject({ status: 'failed', error: expect.stringMatching(/not a guest image/) });
    expect(fake.calls.importImage!).toHaveBeenCalledTimes(1);
  });

  it('creates and starts a VM from a kernel in one action and opens its console', async () => {
    fake.calls.importImage!.mockResolvedValueOnce(kernel);
    fake.calls.createVmFromImage!.mockResolvedValueOnce(summary('hello'));
    fake.calls.startVm!.mockResolvedValueOnce({ id: 'vm1' });
    const drop = useDrop();
    await drop.handleFiles([file('hello.elf', [1])]);
    expect(await drop.createAndStart(drop.items[0]!)).toBe(true);
    expect(fake.calls.createVmFromImage!).toHaveBeenCalledWith('/p/images/hello.elf');
    expect(fake.calls.startVm!).toHaveBeenCalledWith('hello');
    expect(useNav().view).toEqual({ kind: 'vm', profile: 'hello', tab: 'console' });
    expect(useVms().latestFor('hello')?.id).toBe('vm1');
    expect(useNotifications().notices.map((n) => n.text)).toEqual(['Created "hello" and started it.']);
    expect(drop.items).toEqual([]);
  });

  it('attaches a disk to a profile and reports a refusal on the item', async () => {
    const disk: ImportedImage = { ...kernel, path: '/p/images/d.qcow2', name: 'd.qcow2', format: 'qcow2', use: 'disk', protocols: [] };
    fake.calls.importImage!.mockResolvedValueOnce(disk);
    fake.calls.attachImage!.mockRejectedValueOnce(new Error('"demo" is built in; duplicate it first'));
    fake.calls.attachImage!.mockResolvedValueOnce(summary('mine'));
    const drop = useDrop();
    await drop.handleFiles([file('d.qcow2', [1])]);
    expect(await drop.attach(drop.items[0]!, 'demo')).toBe(false);
    expect(drop.items[0]!.actionError).toBe('"demo" is built in; duplicate it first');
    expect(await drop.attach(drop.items[0]!, 'mine')).toBe(true);
    expect(fake.calls.attachImage!).toHaveBeenLastCalledWith('mine', '/p/images/d.qcow2');
    expect(drop.items).toEqual([]);
    expect(useNotifications().notices[0]!.text).toBe('Attached d.qcow2 to "mine" as a virtio-blk disk.');
  });
});
