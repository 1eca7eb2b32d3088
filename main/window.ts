// The app window and the guards every webContents gets. The renderer runs sandboxed with
// context isolation and no Node; its only door to the VMM is the preload's `window.vmm`.
import { app, BrowserWindow } from 'electron';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hardenWebContents } from './security.js';

/** A file next to the bundled main (out/main/), e.g. '../preload/index.cjs'. */
export const builtFile = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));

/** The page the window shows: Vite's dev server under `electron-vite dev`, else the built file. */
export function rendererUrl(): string {
  const devUrl = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL;
  return devUrl || pathToFileURL(builtFile('../renderer/index.html')).href;
}

/** Apply the navigation/window-open/webview guards to every webContents the app creates. */
export function installContentsGuards(appUrl: string): void {
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, () => appUrl));
}

export function createMainWindow(appUrl: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    show: false,
    title: 'irqbench',
    backgroundColor: '#15171c',
    webPreferences: {
      preload: builtFile('../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  win.loadURL(appUrl).catch((e: unknown) => console.error(`irqbench: cannot load the UI from ${appUrl}`, e));
  return win;
}
