// Request handling for the preload API: every request is checked for its sender, then the
// service validates its arguments and answers with a Reply envelope (Electron would
// otherwise mangle error messages).
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { REQUEST_CHANNELS, type Reply } from '../core/api/contract.js';

export type Dispatch = (channel: string, args: unknown[]) => Promise<Reply<unknown>>;

export function registerIpc(
  ipc: Pick<IpcMain, 'handle'>,
  isTrusted: (event: IpcMainInvokeEvent) => boolean,
  dispatch: Dispatch,
  log: (message: string) => void = console.error,
): void {
  for (const channel of REQUEST_CHANNELS) {
    ipc.handle(channel, async (event, ...args: unknown[]): Promise<Reply<unknown>> => {
      if (!isTrusted(event)) {
        log(`refused ${channel} from an untrusted sender (${event.senderFrame?.url ?? 'no frame'})`);
        return { ok: false, error: { name: 'UntrustedSenderError', message: 'request refused: it did not come from the irqbench window' } };
      }
      return dispatch(channel, args);
    });
  }
}
