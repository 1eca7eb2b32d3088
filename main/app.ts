// Main process wiring: single instance, window, IPC and one VM host utility process per
// VM. Everything with logic lives in the modules imported here; this file only connects.
import { app, BrowserWindow, ipcMain, session, utilityProcess } from 'electron';
import { join } from 'node:path';
import { Channels } from '../core/api/contract.js';
import { registerIpc } from './ipc.js';
import { hardenSession, isTrustedSender } from './security.js';
import { createHandlers } from './services.js';
import { VmManager, type ForkHost } from './vms.js';
import { builtFile, createMainWindow, installContentsGuards, rendererUrl } from './window.js';

export function startApp(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  const appUrl = rendererUrl();
  let win: BrowserWindow | null = null;

  const send = (channel: string, payload: unknown) => {
    if (win && !win.isDestroyed()) win.webContents.send(channel, payload);
  };
  const forkHost: ForkHost = (name) =>
    utilityProcess.fork(builtFile('./vm-host.js'), [], { serviceName: `irqbench VM ${name}`, stdio: 'inherit' });
  const vms = new VmManager(forkHost, {
    console: (e) => send(Channels.console, e),
    state: (e) => send(Channels.vmState, e),
  });
  const profileDir = join(app.getPath('userData'), 'profiles');
  registerIpc(ipcMain, (event) => isTrustedSender(event, win, appUrl), createHandlers({ profileDir, vms }));
  installContentsGuards(appUrl);

  const openWindow = () => {
    win = createMainWindow(appUrl);
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
  // VMs belong to the window that shows them; closing it ends them.
  app.on('window-all-closed', () => app.quit());
  app.on('will-quit', () => vms.killAll());
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
