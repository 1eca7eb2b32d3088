// Tells the UI when the profiles folder changed on disk (a save from another window, a
// hand edit, a file copied in). fs.watch fires several events per change (temp file,
// rename), so they are debounced into one notification.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';

export const WATCH_DEBOUNCE_MS = 150;

export class FolderWatcher {
  private watcher?: FSWatcher;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly onChange: () => void,
    private readonly log: (m: string) => void = () => undefined,
    private readonly debounceMs = WATCH_DEBOUNCE_MS,
  ) {}

  /** Watch `dir` (created if missing) instead of whatever was watched before. */
  async watch(dir: string): Promise<void> {
    this.close();
    try {
      await mkdir(dir, { recursive: true });
      this.watcher = watch(dir, { persistent: false }, () => this.changed());
      this.watcher.on('error', (e) => {
        this.log(`stopped watching ${dir}: ${e.message}`);
        this.close();
      });
    } catch (e) {
      // Without a watcher the library still works; it just refreshes on the UI's own actions.
      this.log(`cannot watch ${dir} for changes: ${(e as Error).message}`);
    }
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(), this.debounceMs);
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
