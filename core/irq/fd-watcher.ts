// Readability notifications for eventfds, over the addon's epoll thread (native/fdwatch.c).
//
// Flow: watch(fd, handler) registers fd with this thread's native watcher. The epoll thread
// reads the 8-byte eventfd counter (the fd becomes non-blocking) and queues (fd, count); the
// first record queued wakes this JS thread through a threadsafe function, which dispatches
// every queued record to its handler in one callback. A signal burst arrives as one call
// with count > 1.
//
// Threading rules: one watcher per JS thread (main thread or worker); handlers run on the
// thread that called watch(). unwatch(fd) is synchronous: once it returns, the epoll thread
// never reads fd again, and it returns the count that was read from fd but not yet handed
// to the handler (the caller now owns those signals). The watcher never keeps the event
// loop alive. Eventfds only: the thread consumes 8 bytes per readable event.
import { nativeKvm } from '../kvm/addon.js';
import { IrqError } from './errors.js';

export type FdHandler = (count: number) => void;

export interface FdWatcher {
  watch(fd: number, handler: FdHandler): void;
  /** Stop watching; returns signals read from fd and not yet dispatched. */
  unwatch(fd: number): number;
  isWatched(fd: number): boolean;
}

interface FdWatchNative {
  fdwatchStart(cb: (batch: number[]) => void): void;
  fdwatchAdd(fd: number): void;
  fdwatchRemove(fd: number): number;
}

export class FdWatchError extends IrqError {}

class NativeFdWatcher implements FdWatcher {
  private readonly handlers = new Map<number, FdHandler>();
  private batch: number[] | null = null; // records being dispatched, for unwatch()
  private batchPos = 0;

  constructor(private readonly native: FdWatchNative) {
    native.fdwatchStart((b) => this.dispatch(b));
  }

  watch(fd: number, handler: FdHandler): void {
    if (this.handlers.has(fd)) throw new FdWatchError(`fd ${fd} is already watched`);
    try {
      this.native.fdwatchAdd(fd);
    } catch (cause) {
      throw new FdWatchError(`cannot watch fd ${fd}`, { cause });
    }
    this.handlers.set(fd, handler);
  }

  unwatch(fd: number): number {
    if (!this.handlers.delete(fd)) return 0;
    let left = this.native.fdwatchRemove(fd);
    // Records already taken from the native queue but not yet dispatched belong to us too.
    const b = this.batch;
    if (b) {
      for (let i = this.batchPos; i < b.length; i += 2) {
        if (b[i] === fd) {
          left += b[i + 1]!;
          b[i + 1] = 0;
        }
      }
    }
    return left;
  }

  isWatched(fd: number): boolean {
    return this.handlers.has(fd);
  }

  private dispatch(b: number[]): void {
    this.batch = b;
    let failure: unknown = null;
    for (let i = 0; i < b.length; i += 2) {
      this.batchPos = i + 2;
      const count = b[i + 1]!;
      if (count === 0) continue;
      try {
        this.handlers.get(b[i]!)?.(count);
      } catch (e) {
        failure ??= e; // the other records still get dispatched
      }
    }
    this.batch = null;
    if (failure !== null) throw failure;
  }
}

let watcher: NativeFdWatcher | undefined;

/** This thread's watcher (created on first use). */
export function fdWatcher(): FdWatcher {
  watcher ??= new NativeFdWatcher(nativeKvm() as unknown as FdWatchNative);
  return watcher;
}
