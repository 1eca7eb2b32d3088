// The app service: settings, profile library, folder watcher and VM supervisor wired
// together behind one `dispatch(channel, args)` that validates a request, runs its
// handler and answers with the contract's Reply envelope. Electron main and the browser
// bridge are transports around this; neither holds logic of its own.
import { Events, type EventChannel, type EventPayloads, type Reply } from '../api/contract.js';
import { parseArgs } from '../api/schemas.js';
import { toWireError } from './errors.js';
import { createHandlers, type Handlers } from './handlers.js';
import { ProfileLibrary } from './library.js';
import { SettingsStore } from './settings.js';
import { VmSupervisor, type ForkHost, type SupervisorOptions } from './supervisor.js';
import { FolderWatcher } from './watcher.js';

export type EventSink = <C extends EventChannel>(channel: C, payload: EventPayloads[C]) => void;

export interface ServiceOptions extends SupervisorOptions {
  /** Where settings.json lives (Electron's userData, ~/.config/irqbench in browser mode). */
  configDir: string;
  forkHost: ForkHost;
  log?: (message: string, error?: unknown) => void;
}

export class AppService {
  readonly settings: SettingsStore;
  readonly library: ProfileLibrary;
  readonly vms: VmSupervisor;
  readonly handlers: Handlers;
  private readonly watcher: FolderWatcher;
  private readonly sinks = new Set<EventSink>();
  /** Requests being handled, so shutdown lets a profile save finish. */
  private readonly inflight = new Set<Promise<Reply<unknown>>>();
  private readonly log: (message: string, error?: unknown) => void;

  private constructor(opts: ServiceOptions) {
    this.log = opts.log ?? ((m, e) => console.error(`irqbench: ${m}`, ...(e === undefined ? [] : [e])));
    this.settings = new SettingsStore(opts.configDir);
    this.library = new ProfileLibrary(() => this.settings.get().profilesDir);
    const emit: EventSink = (channel, payload) => {
      for (const sink of this.sinks) sink(channel, payload);
    };
    this.vms = new VmSupervisor(
      opts.forkHost,
      {
        console: (e) => emit(Events.console, e),
        state: (e) => emit(Events.vmState, e),
        stats: (e) => emit(Events.stats, e),
      },
      { ...opts, log: (m) => this.log(m) },
    );
    this.watcher = new FolderWatcher(() => emit(Events.profilesChanged, {}), (m) => this.log(m));
    this.handlers = createHandlers({
      library: this.library,
      vms: this.vms,
      settings: this.settings,
      onSettingsChanged: async () => {
        await this.watcher.watch(this.library.folder);
        emit(Events.profilesChanged, {});
      },
    });
  }

  static async create(opts: ServiceOptions): Promise<AppService> {
    const service = new AppService(opts);
    await service.settings.load((m) => service.log(m));
    await service.watcher.watch(service.library.folder);
    return service;
  }

  /** Receive every event; returns the unsubscribe function. */
  subscribe(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => void this.sinks.delete(sink);
  }

  /** Validate and run one request; never throws. */
  dispatch(channel: string, args: unknown[]): Promise<Reply<unknown>> {
    const p = this.run(channel, args);
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  private async run(channel: string, args: unknown[]): Promise<Reply<unknown>> {
    try {
      const parsed = parseArgs(channel as keyof Handlers, args);
      const handler = this.handlers[channel as keyof Handlers] as (...a: unknown[]) => Promise<unknown>;
      return { ok: true, value: await handler(...parsed) };
    } catch (e) {
      return { ok: false, error: toWireError(String(channel).slice(0, 64), e, this.log) };
    }
  }

  /** Stop every VM cleanly (each bounded by the stop timeout), let saves finish, stop watching. */
  async shutdown(): Promise<void> {
    this.watcher.close();
    await Promise.all([this.vms.stopAll(), Promise.allSettled([...this.inflight])]);
  }
}
