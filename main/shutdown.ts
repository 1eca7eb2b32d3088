// Quitting with VMs running: ask first (stop them and quit, or cancel), then stop every VM
// cleanly within the stop timeout, let pending saves finish, and only then quit. Driven by
// Electron's before-quit and the window's close event; Electron-free for tests.
export interface QuitDeps {
  running(): number;
  /** true: stop the VMs and quit; false: cancel. */
  ask(count: number): Promise<boolean>;
  /** Stop VMs, flush pending saves. */
  shutdown(): Promise<void>;
  quit(): void;
  log?(message: string, error?: unknown): void;
}

type Phase = 'idle' | 'asking' | 'stopping' | 'done';

export class QuitGuard {
  private phase: Phase = 'idle';

  constructor(private readonly deps: QuitDeps) {}

  get state(): Phase {
    return this.phase;
  }

  /** before-quit: hold the quit until the VMs are stopped and saves are flushed. */
  beforeQuit(event: { preventDefault(): void }): void {
    if (this.phase === 'done') return;
    event.preventDefault();
    this.begin();
  }

  /** The window's close: with VMs running, closing it means quitting, so ask the same question. */
  windowClose(event: { preventDefault(): void }): void {
    if (this.phase === 'done' || (this.phase === 'idle' && this.deps.running() === 0)) return;
    event.preventDefault();
    this.begin();
  }

  private begin(): void {
    if (this.phase !== 'idle') return;
    const count = this.deps.running();
    if (count === 0) return void this.finish();
    this.phase = 'asking';
    this.deps.ask(count).then(
      (stop) => (stop ? this.finish() : void (this.phase = 'idle')),
      () => void (this.phase = 'idle'),
    );
  }

  private async finish(): Promise<void> {
    this.phase = 'stopping';
    try {
      await this.deps.shutdown();
    } catch (e) {
      this.deps.log?.('shutdown did not complete cleanly', e);
    }
    this.phase = 'done';
    this.deps.quit();
  }
}
