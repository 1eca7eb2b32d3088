// Request handling for the preload API: every request is checked for its sender, its
// arguments are validated against the contract, and the result or error travels back in a
// Reply envelope (Electron would otherwise mangle error messages).
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { Channels, type Reply, type RequestChannel, type Requests } from '../core/api/contract.js';
import { parseArgs } from '../core/api/schemas.js';
import { VmmError } from '../core/errors.js';

export type Handlers = {
  [C in RequestChannel]: (...args: Requests[C]['args']) => Promise<Requests[C]['result']>;
};

export const REQUEST_CHANNELS: readonly RequestChannel[] = [
  Channels.listProfiles,
  Channels.getDemoProfile,
  Channels.startVm,
  Channels.stopVm,
];

export function registerIpc(
  ipc: Pick<IpcMain, 'handle'>,
  isTrusted: (event: IpcMainInvokeEvent) => boolean,
  handlers: Handlers,
  log: (message: string, error?: unknown) => void = console.error,
): void {
  for (const channel of REQUEST_CHANNELS) {
    ipc.handle(channel, async (event, ...args: unknown[]): Promise<Reply<unknown>> => {
      if (!isTrusted(event)) {
        log(`refused ${channel} from an untrusted sender (${event.senderFrame?.url ?? 'no frame'})`);
        return { ok: false, error: { name: 'UntrustedSenderError', message: 'request refused: it did not come from the irqbench window' } };
      }
      try {
        const parsed = parseArgs(channel, args);
        const handler = handlers[channel] as (...a: unknown[]) => Promise<unknown>;
        return { ok: true, value: await handler(...parsed) };
      } catch (e) {
        return { ok: false, error: toWireError(channel, e, log) };
      }
    });
  }
}

/** Our own errors carry user-facing messages; anything else is a bug, logged in full. */
function toWireError(channel: string, e: unknown, log: (m: string, e?: unknown) => void) {
  if (e instanceof VmmError) return { name: e.name, message: e.message };
  log(`internal error in ${channel}`, e);
  const message = e instanceof Error ? e.message : String(e);
  return { name: 'InternalError', message: `internal error: ${message} (details in the app log)` };
}
