// The preload's transport for the contract's VmmApi: requests go over ipcRenderer.invoke,
// events arrive on ipcRenderer.on. Listeners get only the payload, never the IPC event
// (it carries `sender`, which must not reach the page).
import type { IpcRenderer } from 'electron';
import { createVmmApi, type VmmTransport } from '../core/api/client.js';
import type { Reply, VmmApi } from '../core/api/contract.js';

type Ipc = Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>;

export function ipcTransport(ipc: Ipc): VmmTransport {
  return {
    mode: 'electron',
    invoke: (channel, args) => ipc.invoke(channel, ...args) as Promise<Reply<unknown>>,
    subscribe(channel, cb) {
      const listener = (_event: unknown, payload: unknown) => cb(payload);
      ipc.on(channel, listener);
      return () => void ipc.removeListener(channel, listener);
    },
  };
}

/** `window.vmm`: the contract API plus the path of a dropped file (Electron only). */
export function createPreloadApi(ipc: Ipc, pathOf: (file: File) => string): VmmApi {
  const api = createVmmApi(ipcTransport(ipc));
  api.pathForFile = (file: unknown) => {
    // The page may hand us anything (getPathForFile throws on non-Files); an empty path
    // means the file did not come from disk (e.g. constructed in script).
    try {
      return pathOf(file as File) || undefined;
    } catch {
      return undefined;
    }
  };
  return api;
}
