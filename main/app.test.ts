// The main-process wiring with Electron replaced by a test double: single-instance lock,
// window options, IPC sender checks through the real handlers, navigation guards, and a
// VM started from a user profile reaching the renderer as events, the menu, and the quit
// flow that asks before stopping running VMs.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Channels, Events, REQUEST_CHANNELS, type Reply } from '../core/api/contract.js';

const fake = vi.hoisted(() => ({
  lock: true,
  userData: '',
  appHandlers: new Map<string, ((...a: unknown[]) => void)[]>(),
  ipc: new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>(),
  windows: [] as any[],
  forks: [] as any[],
  quit: 0,
  quitDone: 0,
  menu: undefined as any,
  dialogs: [] as any[],
  dialogAnswer: 0,
  openPaths: [] as string[],
}));

vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events');
  const emitterApp = new EventEmitter();
  const app = {
    isPackaged: true,
    requestSingleInstanceLock: () => fake.lock,
    quit: () => {
      fake.quit++;
      const ev = { defaultPrevented: false, preventDefault: () => (ev.defaultPrevented = true) };
      emitterApp.emit('before-quit', ev);
      if (!ev.defaultPrevented) fake.quitDone++;
    },
    getVersion: () => '0.1.0',
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
    Menu: {
      buildFromTemplate: (t: unknown) => t,
      setApplicationMenu: (m: unknown) => (fake.menu = m),
    },
    dialog: {
      showMessageBox: async (...a: any[]) => {
        fake.dialogs.push(a.at(-1));
        return { response: fake.dialogAnswer };
      },
      showOpenDialog: async () => ({ canceled: false, filePaths: fake.openPaths }),
    },
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
  fake.dialogs.length = 0;
  fake.dialogAnswer = 0;
  fake.quit = 0;
  fake.quitDone = 0;
});
afterEach(() => rm(fake.userData, { recursive: true, force: true }));

const tick = () => new Promise((r) => setTimeout(r, 0));

async function started() {
  startApp();
  await tick(); // whenReady().then(...)
  const win = fake.windows[0];
  const trusted = { sender: win.webContents, senderFrame: win.webContents.mainFrame };
  const invoke = (channel: string, event: unknown, ...args: unknown[]) => fake.ipc.get(channel)!(event, ...args) as Promise<Reply<any>>;
  // The service starts asynchronously; any request waits for it.
  await invoke(Channels.getSettings, trusted);
  return { win, trusted, invoke };
}

const emitApp = (name: string, ...args: unknown[]) => fake.appHandlers.get(name)?.forEach((l) => l(...args));

async function userProfile(name: string, kernel: string, withKernel = true) {
  const dir = join(fake.userData, 'profiles');
  await mkdir(dir, { recursive: true });
  if (withKernel) await writeFile(join(dir, kernel), '');
  const profile = { version: 1, name, platform: 'kvm', cpus: 1, memoryMiB: 32, boot: { kernel } };
  await writeFile(join(dir, `${name.toLowerCase()}.json`), JSON.stringify(profile));
  return dir;
}

describe('startApp', () => {
  it('quits when another instance holds the lock', () => {
    fake.lock = false;
    startApp();
    expect(fake.quit).toBe(1);
    expect(fake.ipc.size).toBe(0);
  });

  it('opens a sandboxed, isolated window on the built renderer and handles every channel', async () => {
    const { win } = await started();
    expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(win.options.webPreferences.preload).toMatch(/[/\\]preload[/\\]index\.cjs$/);
    expect(win.webContents.mainFrame.url).toMatch(/^file:\/\/.*\/renderer\/index\.html$/);
    expect([...fake.ipc.keys()].sort()).toEqual([...REQUEST_CHANNELS].sort());
  });

  it('answers our window and refuses anyone else', async () => {
    const { win, trusted, invoke } = await started();
    const demo = await invoke(Channels.getDemoProfile, trusted);
    expect(demo).toMatchObject({ ok: true, value: { name: 'Interrupt Lab: hello', cpus: 2, memoryMiB: 128 } });
    const subframe = { sender: win.webContents, senderFrame: { url: win.webContents.mainFrame.url } };
    const stranger = { sender: {}, senderFrame: win.webContents.mainFrame };
    for (const ev of [subframe, stranger]) {
      for (const channel of REQUEST_CHANNELS) {
        expect(await invoke(channel, ev)).toMatchObject({ ok: false, error: { name: 'UntrustedSenderError' } });
      }
    }
    expect(await invoke(Channels.startVm, trusted, 42)).toMatchObject({ ok: false, error: { name: 'BadRequestError' } });
    expect(await invoke(Channels.stopVm, trusted, 'vm-7')).toMatchObject({ ok: false, error: { name: 'VmNotFoundError' } });
    expect(await invoke(Channels.getSettings, trusted)).toEqual({ ok: true, value: { profilesDir: join(fake.userData, 'profiles') } });
  });

  it('blocks navigation and new windows in every webContents', async () => {
    const { win } = await started();
    const ev = { url: 'https://example.com/', preventDefault: vi.fn() };
    win.webContents.emit('will-navigate', ev, ev.url);
    expect(ev.preventDefault).toHaveBeenCalled();
    expect(win.webContents.openHandler({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
  });

  it('starts a user profile in a VM host and forwards its events to the window', async () => {
    const dir = await userProfile('Mine', 'k.elf');
    const { win, trusted, invoke } = await started();

    const list = await invoke(Channels.listProfiles, trusted);
    expect(list.ok && list.value.profiles.map((p: { name: string }) => p.name)).toContain('Mine');

    const reply = await invoke(Channels.startVm, trusted, 'Mine');
    expect(reply).toEqual({ ok: true, value: { id: 'vm-1' } });
    const host = fake.forks[0];
    expect(host.path).toMatch(/vm-host\.js$/);
    expect(host.sent[0]).toMatchObject({ type: 'start', config: { name: 'Mine', boot: { kernel: join(dir, 'k.elf') } } });
    host.emit('message', { type: 'console', data: new Uint8Array([72]) });
    expect(win.webContents.sent).toContainEqual([Events.console, { id: 'vm-1', data: new Uint8Array([72]) }]);
    expect(win.webContents.sent).toContainEqual([Events.vmState, { id: 'vm-1', state: 'starting' }]);
    expect(await invoke(Channels.consoleBacklog, trusted, 'vm-1')).toEqual({ ok: true, value: new Uint8Array([72]) });

    expect(await invoke(Channels.stopVm, trusted, 'vm-1')).toEqual({ ok: true });
    expect(host.sent.at(-1)).toEqual({ type: 'stop' });
    emitApp('will-quit');
    expect(host.killed).toBe(true);
  });

  it('says how to get a missing kernel', async () => {
    await userProfile('Gone', 'none.elf', false);
    const { trusted, invoke } = await started();
    const reply = await invoke(Channels.startVm, trusted, 'Gone');
    expect(reply).toMatchObject({ ok: false, error: { name: 'ProfileError', message: expect.stringContaining('none.elf not found') } });
    expect(fake.forks).toHaveLength(0);
  });

  it('has File, View and Help menus whose page items reach the window as menu events', async () => {
    const { win } = await started();
    expect(fake.menu.map((m: { label: string }) => m.label)).toEqual(['&File', '&View', '&Help']);
    const file = fake.menu[0].submenu as { label?: string; role?: string; click?: () => void }[];
    expect(file.map((i) => i.label ?? i.role).filter(Boolean)).toEqual(['&New VM', '&Import Image…', '&Settings', 'quit']);
    const view = fake.menu[1].submenu as { role?: string }[];
    expect(view.map((i) => i.role).filter(Boolean)).toEqual(['reload', 'toggleDevTools', 'resetZoom', 'zoomIn', 'zoomOut', 'togglefullscreen']);
    file[0]!.click!();
    fake.openPaths = ['/tmp/bzImage'];
    file[1]!.click!();
    await tick();
    expect(win.webContents.sent).toContainEqual([Events.menu, { action: 'new-vm' }]);
    expect(win.webContents.sent).toContainEqual([Events.menu, { action: 'import-image', path: '/tmp/bzImage' }]);
    fake.menu[2].submenu[0].click();
    expect(fake.dialogs.at(-1)).toMatchObject({ title: 'About irqbench', message: 'irqbench 0.1.0' });
  });

  it('asks before quitting with a VM running, stops it cleanly, then quits', async () => {
    await userProfile('Mine', 'k.elf');
    const { trusted, invoke } = await started();
    await invoke(Channels.startVm, trusted, 'Mine');
    const host = fake.forks[0];

    fake.dialogAnswer = 1; // Cancel
    const cancelled = { preventDefault: vi.fn() };
    emitApp('before-quit', cancelled);
    await tick();
    expect(cancelled.preventDefault).toHaveBeenCalled();
    expect(fake.dialogs.at(-1)).toMatchObject({ buttons: ['Stop VMs and Quit', 'Cancel'], message: 'A VM is still running.' });
    expect(host.sent.at(-1)).toMatchObject({ type: 'start' });

    fake.dialogAnswer = 0; // Stop VMs and Quit
    emitApp('before-quit', { preventDefault: vi.fn() });
    await tick();
    expect(host.sent.at(-1)).toEqual({ type: 'stop' });
    expect(fake.quitDone).toBe(0);
    host.emit('message', { type: 'exit', status: 0, reason: 'stopped' });
    await vi.waitFor(() => expect(fake.quitDone).toBe(1));
  });
});
