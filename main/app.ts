// Main process wiring: single instance, window, application menu, IPC into the app service
// (core/service) and one VM host utility process per VM, and the quit flow that stops VMs
// first. Everything with logic lives in the modules imported here; this file only connects.
import { app, BrowserWindow, dialog, ipcMain, Menu, session, utilityProcess } from 'electron';
import { Events, type EventChannel, type MenuEvent } from '../core/api/contract.js';
import { AppService } from '../core/service/service.js';
import type { ForkHost, HostHandle } from '../core/service/supervisor.js';
import { registerIpc } from './ipc.js';
import { menuTemplate } from './menu.js';
import { hardenSession, isTrustedSender } from './security.js';
import { QuitGuard } from './shutdown.js';
import { builtFile, createMainWindow, installContentsGuards, rendererUrl } from './window.js';

const ABOUT = 'An interrupt-virtualization workbench: a KVM VMM in TypeScript that shows every layer an interrupt crosses.';

export function startApp(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  const appUrl = rendererUrl();
  let win: BrowserWindow | null = null;

  const send = (channel: EventChannel, payload: unknown) => {
    if (win && !win.isDestroyed()) win.webContents.send(channel, payload);
  };
  const forkHost: ForkHost = (name) =>
    utilityProcess.fork(builtFile('./vm-host.js'), [], { serviceName: `irqbench VM ${name}`, stdio: 'inherit' }) as unknown as HostHandle;
  const service = AppService.create({ configDir: app.getPath('userData'), forkHost });
  let ready: AppService | undefined;
  service.then(
    (s) => {
      ready = s;
      s.subscribe(send);
    },
    (e: unknown) => {
      console.error('irqbench: the app service failed to start', e);
      app.exit(1);
    },
  );
  registerIpc(ipcMain, (event) => isTrustedSender(event, win, appUrl), async (channel, args) => (await service).dispatch(channel, args));
  installContentsGuards(appUrl);

  const menu = (event: MenuEvent) => send(Events.menu, event);
  Menu.setApplicationMenu(
    Menu.buildFromTemplate(
      menuTemplate({
        newVm: () => menu({ action: 'new-vm' }),
        settings: () => menu({ action: 'settings' }),
        importImage: () => {
          const options = { title: 'Import a guest image', properties: ['openFile' as const] };
          void (win ? dialog.showOpenDialog(win, options) : dialog.showOpenDialog(options)).then((r) => {
            const path = r.filePaths[0];
            if (!r.canceled && path) menu({ action: 'import-image', path });
          });
        },
        about: () => {
          const options = { type: 'info' as const, title: 'About irqbench', message: `irqbench ${app.getVersion()}`, detail: ABOUT };
          void (win ? dialog.showMessageBox(win, options) : dialog.showMessageBox(options));
        },
      }),
    ),
  );

  const quit = new QuitGuard({
    running: () => ready?.vms.running.length ?? 0,
    ask: async (count) => {
      const options = {
        type: 'question' as const,
        buttons: ['Stop VMs and Quit', 'Cancel'],
        defaultId: 0,
        cancelId: 1,
        message: count === 1 ? 'A VM is still running.' : `${count} VMs are still running.`,
        detail: 'Quitting stops them. Their console output and statistics are not kept.',
      };
      const r = await (win ? dialog.showMessageBox(win, options) : dialog.showMessageBox(options));
      return r.response === 0;
    },
    shutdown: async () => (await service).shutdown(),
    quit: () => app.quit(),
    log: (m, e) => console.error(`irqbench: ${m}`, e),
  });

  const openWindow = () => {
    win = createMainWindow(appUrl);
    win.on('close', (event) => quit.windowClose(event));
    win.on('closed', () => (win = null));
  };
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('activate', () => {
    if (!win) openWindow();
  });
  // VMs belong to the window that shows them; closing it ends them (after asking).
  app.on('window-all-closed', () => app.quit());
  app.on('before-quit', (event) => quit.beforeQuit(event));
  // Last resort if the quit flow was bypassed (app.exit, a signal): no host outlives the app.
  app.on('will-quit', () => ready?.vms.killAll());
  app
    .whenReady()
    .then(() => {
      hardenSession(session.defaultSession, appUrl.startsWith('http'));
      openWindow();
    })
    .catch((e: unknown) => {
      console.error('irqbench: the app failed to start', e);
      app.exit(1);
    });
}
