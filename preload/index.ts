// Preload (sandboxed, bundled to out/preload/index.cjs): exposes the contract's VmmApi as
// `window.vmm`. It forwards calls and events only; the renderer never sees ipcRenderer or
// IPC event objects, and unwraps no Electron internals.
import { contextBridge, ipcRenderer } from 'electron';
import { createVmmApi } from './api.js';

contextBridge.exposeInMainWorld('vmm', createVmmApi(ipcRenderer));
