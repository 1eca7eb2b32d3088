// Preload (sandboxed, bundled to out/preload/index.cjs): exposes the contract's VmmApi as
// `window.vmm`. It forwards calls and events only; the renderer never sees ipcRenderer or
// IPC event objects, and unwraps no Electron internals.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { createPreloadApi } from './api.js';

contextBridge.exposeInMainWorld('vmm', createPreloadApi(ipcRenderer, (file) => webUtils.getPathForFile(file)));
