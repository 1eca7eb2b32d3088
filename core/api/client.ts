// Builds a VmmApi from any transport that can send a request and receive events: Electron's
// ipcRenderer in the preload, the WebSocket bridge in browser mode, a fake in tests. Reply
// envelopes are unwrapped here, so a failed request rejects with the message the service
// wrote for the user (and the field issues of a rejected profile).
import {
  Events,
  MethodOf,
  REQUEST_CHANNELS,
  type EventChannel,
  type EventPayloads,
  type FieldIssue,
  type Reply,
  type RequestChannel,
  type VmmApi,
} from './contract.js';

export interface VmmTransport {
  readonly mode: VmmApi['mode'];
  invoke(channel: RequestChannel, args: unknown[]): Promise<Reply<unknown>>;
  /** Listen to one event channel; returns the unsubscribe function. */
  subscribe(channel: EventChannel, cb: (payload: unknown) => void): () => void;
}

/** A request the service refused or failed; `name` is its error class, message is for the user. */
export class VmmRequestError extends Error {
  readonly issues: FieldIssue[];
  constructor(name: string, message: string, issues: FieldIssue[] = []) {
    super(message);
    this.name = name;
    this.issues = issues;
  }
}

export function createVmmApi(transport: VmmTransport): VmmApi {
  const api: Record<string, unknown> = { mode: transport.mode };
  for (const channel of REQUEST_CHANNELS) {
    api[MethodOf[channel]] = async (...args: unknown[]) => {
      const reply = await transport.invoke(channel, args);
      if (reply.ok) return reply.value;
      throw new VmmRequestError(reply.error.name, reply.error.message, reply.error.issues);
    };
  }
  const on =
    <C extends EventChannel>(channel: C) =>
    (cb: (e: EventPayloads[C]) => void) =>
      transport.subscribe(channel, cb as (p: unknown) => void);
  api.onConsole = on(Events.console);
  api.onVmState = on(Events.vmState);
  api.onStats = on(Events.stats);
  api.onProfilesChanged = on(Events.profilesChanged);
  api.onMenu = on(Events.menu);
  return api as unknown as VmmApi;
}
