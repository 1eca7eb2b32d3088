// The main-process wiring with Electron replaced by a test double: single-instance lock,
// window options, IPC sender checks through the real handlers, navigation guards, and a
// VM started from a user profile reaching the renderer as events.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Channels, type Reply } from '../core/api/contract.js';

const fake = vi.hoisted(() => ({
  lock: true,
  userData: '',
  appHandlers: new Map<string, ((...a: unknown[]) => void)[]>(),
  ipc: new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>(),
  windows: [] as any[],
  forks: [] as any[],
  quit: 0,
}));

vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events');
  const emitterApp = new EventEmitter();
  const app = {
    isPackaged: true,
    requestSingleInstanceLock: () => fake.lock,
    quit: () => void fake.quit++,
    exit: vi.fn(),
    getPath: () => fake.userData,
    whenReady: () => Promise.resolve(),
    on: (name: string, l: (...a: unknown[]) => void) => {
      emitterApp.on(name, l);
      fake.appHandlers.set(name, [...(fake.appHandlers.get(name) ?? []), l]);
      return app;
    },
  };
  class WebContents extends EventEmitter {
    mainFrame = { url: '' };
    sent: [string, unknown][] = [];
    openHandler?: (d: { url: string }) => unknown;
    send(channel: string, payload: unknown) {
      this.sent.push([channel, payload]);
    }
    setWindowOpenHandler(h: (d: { url: string }) => unknown) {
      this.openHandler = h;
    }
  }
  class BrowserWindow extends EventEmitter {
    webContents = new WebContents();
    constructor(readonly options: any) {
      super();
      fake.windows.push(this);
      emitterApp.emit('web-contents-created', {}, this.webContents);
    }
    isDestroyed = () => false;
    loadURL(url: string) {
      this.webContents.mainFrame.url = url;
      return Promise.resolve();
    }
    show() {}
  }
  class UtilityProcess extends EventEmitter {
    sent: unknown[] = [];
    killed = false;
    constructor(readonly path: string) {
      super();
    }
    postMessage(m: unknown) {
      this.sent.push(m);
    }
    kill() {
      this.killed = true;
      return true;
    }
  }
  return {
    app,
    BrowserWindow,
    ipcMain: { handle: (c: string, h: any) => fake.ipc.set(c, h) },
    session: {
      defaultSession: {
        setPermissionRequestHandler: vi.fn(),
        setPermissionCheckHandler: vi.fn(),
        webRequest: { onHeadersReceived: vi.fn() },
      },
    },
    utilityProcess: {
      fork: (path: string) => {
        const p = new UtilityProcess(path);
        fake.forks.push(p);
        return p;
      },
    },
  };
});

const { startApp } = await import('./app.js');

beforeEach(async () => {
  fake.userData = await mkdtemp(join(tmpdir(), 'irqbench-app-'));
  fake.lock = true;
  fake.appHandlers.clear();
  fake.ipc.clear();
  fake.windows.length = 0;
  fake.forks.length = 0;
  fake.quit = 0;
});
afterEach(() => rm(fake.userData, { recursive: true, force: true }));

async function started() {
  startApp();
  await new Promise((r) => setTimeout(r, 0)); // whenReady().then(...)
  const win = fake.windows[0];
  const trusted = { sender: win.webContents, senderFrame: win.webContents.mainFrame };
  const invoke = (channel: string, event: unknown, ...args: unknown[]) => fake.ipc.get(channel)!(event, ...args) as Promise<Reply<any>>;
  return { win, trusted, invoke };
}

describe('startApp', () => {
  it('quits when another instance holds the lock', () => {
    fake.lock = false;
    startApp();
    expect(fake.quit).toBe(1);
    expect(fake.ipc.size).toBe(0);
  });

  it('opens a sandboxed, isolated window on the built renderer', async () => {
    const { win } = await started();
    expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(win.options.webPreferences.preload).toMatch(/[/\\]preload[/\\]index\.cjs$/);
    expect(win.webContents.mainFrame.url).toMatch(/^file:\/\/.*\/renderer\/index\.html$/);
    expect([...fake.ipc.keys()].sort()).toEqual(
      [Channels.listProfiles, Channels.getDemoProfile, Channels.startVm, Channels.stopVm].sort(),
    );
  });

  it('answers our window and refuses anyone else', async () => {
    const { win, trusted, invoke } = await started();
    const demo = await invoke(Channels.getDemoProfile, trusted);
    expect(demo).toMatchObject({ ok: true, value: { name: 'Interrupt Lab: hello', cpus: 2, memoryMiB: 128 } });
    const subframe = { sender: win.webContents, senderFrame: { url: win.webContents.mainFrame.url } };
    const stranger = { sender: {}, senderFrame: win.webContents.mainFrame };
    for (const ev of [subframe, stranger]) {
      expect(await invoke(Channels.getDemoProfile, ev)).toMatchObject({ ok: false, error: { name: 'UntrustedSenderError' } });
    }
    expect(await invoke(Channels.startVm, trusted, 42)).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    expect(await invoke(Channels.stopVm, trusted, 'vm-7')).toMatchObject({ ok: false, error: { name: 'VmNotFoundError' } });
  });

  it('blocks navigation and new windows in every webContents', async () => {
    const { win } = await started();
    const ev = { url: 'https://example.com/', preventDefault: vi.fn() };
    win.webContents.emit('will-navigate', ev, ev.url);
    expect(ev.preventDefault).toHaveBeenCalled();
    expect(win.webContents.openHandler({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
  });

  it('starts a user profile in a VM host and forwards its events to the window', async () => {
    const dir = join(fake.userData, 'profiles');
    await mkdir(dir);
    await writeFile(join(dir, 'k.elf'), '');
    const profile = { version: 1, name: 'Mine', platform: 'kvm', cpus: 1, memoryMiB: 32, boot: { kernel: 'k.elf' } };
    await writeFile(join(dir, 'mine.json'), JSON.stringify(profile));
    const { win, trusted, invoke } = await started();

    const list = await invoke(Channels.listProfiles, trusted);
    expect(list.ok && list.value.profiles.map((p: { name: string }) => p.name)).toContain('Mine');

    const reply = await invoke(Channels.startVm, trusted, 'Mine');
    expect(reply).toEqual({ ok: true, value: { id: 'vm-1' } });
    const host = fake.forks[0];
    expect(host.path).toMatch(/vm-host\.js$/);
    expect(host.sent[0]).toMatchObject({ type: 'start', config: { name: 'Mine', boot: { kernel: join(dir, 'k.elf') } } });
    host.emit('message', { type: 'console', data: new Uint8Array([72]) });
    expect(win.webContents.sent).toContainEqual([Channels.console, { id: 'vm-1', data: new Uint8Array([72]) }]);
    expect(win.webContents.sent).toContainEqual([Channels.vmState, { id: 'vm-1', state: 'starting' }]);

    expect(await invoke(Channels.stopVm, trusted, 'vm-1')).toEqual({ ok: true });
    expect(host.sent.at(-1)).toEqual({ type: 'stop' });
    for (const l of fake.appHandlers.get('will-quit') ?? []) l();
    expect(host.killed).toBe(true);
  });

  it('says how to get a missing kernel', async () => {
    const dir = join(fake.userData, 'profiles');
    await mkdir(dir);
    const profile = { version: 1, name: 'Gone', platform: 'kvm', cpus: 1, memoryMiB: 32, boot: { kernel: 'none.elf' } };
    await writeFile(join(dir, 'gone.json'), JSON.stringify(profile));
    const { trusted, invoke } = await started();
    const reply = await invoke(Channels.startVm, trusted, 'Gone');
    expect(reply).toMatchObject({ ok: false, error: { name: 'ProfileError', message: expect.stringContaining('none.elf not found') } });
    expect(fake.forks).toHaveLength(0);
  });
});
