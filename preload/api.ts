// Builds the `window.vmm` object from an ipcRenderer. Reply envelopes are unwrapped here,
// so a failed request rejects with the message main wrote for the user.
import type { IpcRenderer } from 'electron';
import {
  Channels,
  type ConsoleEvent,
  type Reply,
  type RequestChannel,
  type Requests,
  type VmmApi,
  type VmStateEvent,
} from '../core/api/contract.js';
import { VmmError } from '../core/errors.js';

/** A request main refused or failed; `name` is main's error class, message is for the user. */
export class VmmRequestError extends VmmError {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export function createVmmApi(ipc: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>): VmmApi {
  async function call<C extends RequestChannel>(channel: C, ...args: Requests[C]['args']): Promise<Requests[C]['result']> {
    const reply = (await ipc.invoke(channel, ...args)) as Reply<Requests[C]['result']>;
    if (reply.ok) return reply.value;
    throw new VmmRequestError(reply.error.name, reply.error.message);
  }

  function subscribe<T>(channel: string, cb: (payload: T) => void): () => void {
    const listener = (_event: unknown, payload: T) => cb(payload);
    ipc.on(channel, listener);
    return () => void ipc.removeListener(channel, listener);
  }

  return {
    listProfiles: () => call(Channels.listProfiles),
    getDemoProfile: () => call(Channels.getDemoProfile),
    startVm: (profileName) => call(Channels.startVm, profileName),
    stopVm: (id) => call(Channels.stopVm, id),
    onConsole: (cb) => subscribe<ConsoleEvent>(Channels.console, cb),
    onVmState: (cb) => subscribe<VmStateEvent>(Channels.vmState, cb),
  };
}
