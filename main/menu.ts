// The application menu. Items that concern the page (New VM, Import Image…, Settings) are
// sent to it as menu events; the rest are Electron roles. Built from plain actions so
// tests can check the template without Electron.
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  newVm(): void;
  importImage(): void;
  settings(): void;
  about(): void;
}

export function menuTemplate(actions: MenuActions): MenuItemConstructorOptions[] {
  return [
    {
      label: '&File',
      submenu: [
        { label: '&New VM', accelerator: 'CmdOrCtrl+N', click: () => actions.newVm() },
        { label: '&Import Image…', accelerator: 'CmdOrCtrl+O', click: () => actions.importImage() },
        { type: 'separator' },
        { label: '&Settings', accelerator: 'CmdOrCtrl+,', click: () => actions.settings() },
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    {
      label: '&View',
      submenu: [
        { role: 'reload' },
        { role: 'toggleDevTools' },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { label: '&Help', submenu: [{ label: '&About irqbench', click: () => actions.about() }] },
  ];
}
