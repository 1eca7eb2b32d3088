// A simulated kernel for unit tests of the interrupt groups: eventfd counters, KVM irqfds
// (with KVM's assign/deassign semantics), resamplers, the routing table, KVM_SIGNAL_MSI,
// and an fd watcher whose "epoll thread" reads fds only when the test says so (poll()),
// so tests can interleave the thread's reads with JS work.
import type { GsiRoute } from '../kvm/vm.js';
import type { EventFdOps } from './eventfd.js';
import type { FdHandler, FdWatcher } from './fd-watcher.js';
import type { MsiMessage } from './types.js';

export interface Delivery {
  vector: number;
  via: 'irqfd' | 'msi' | 'level';
  gsi?: number;
}

interface Irqfd {
  gsi: number;
  resampleFd?: number;
}

export class FakeKernel implements EventFdOps, FdWatcher {
  readonly deliveries: Delivery[] = [];
  readonly routingCalls: GsiRoute[][] = [];
  readonly irqfdCalls: { fd: number; gsi: number; deassign: boolean; resample: boolean }[] = [];
  table: GsiRoute[] = [];
  /** Hook run inside KVM_IRQFD assign, before KVM polls the eventfd (to model races). */
  beforeAssign: ((fd: number) => void) | null = null;
  private nextFd = 100;
  private readonly counts = new Map<number, number>();
  private readonly irqfds = new Map<number, Irqfd>();
  private readonly handlers = new Map<number, FdHandler>();
  private readonly queued = new Map<number, number>(); // read by the "thread", not dispatched
  readonly levels = new Map<number, number>(); // gsi -> resampler asserted (0/1)

  readonly vm = {
    setGsiRouting: (routes: GsiRoute[]): void => {
      if (routes.length > 4096) throw new Error('EINVAL');
      this.table = routes.slice();
      this.routingCalls.push(this.table);
    },
    irqfd: (fd: number, gsi: number, opts: { deassign?: boolean; resampleFd?: number } = {}): void => {
      this.irqfdCalls.push({ fd, gsi, deassign: !!opts.deassign, resample: opts.resampleFd !== undefined });
      if (opts.deassign) {
        if (!this.irqfds.delete(fd)) throw new Error('ENOENT');
        this.counts.set(fd, 0); // eventfd_ctx_remove_wait_queue consumes the counter
        return;
      }
      if (this.irqfds.has(fd)) throw new Error('EBUSY');
      this.beforeAssign?.(fd);
      const r: Irqfd = { gsi };
      if (opts.resampleFd !== undefined) r.resampleFd = opts.resampleFd;
      this.irqfds.set(fd, r);
      // kvm_irqfd_assign: an already-signalled eventfd is injected, but its counter is left.
      if ((this.counts.get(fd) ?? 0) > 0) this.inject(r);
    },
    signalMsi: (msg: MsiMessage): number => {
      this.deliveries.push({ vector: msg.data & 0xff, via: 'msi' });
      return 1;
    },
  };

  // ---- EventFdOps ----
  create(): number {
    const fd = this.nextFd++;
    this.counts.set(fd, 0);
    return fd;
  }
  read(fd: number): number {
    const c = this.counts.get(fd) ?? 0;
    this.counts.set(fd, 0);
    return c;
  }
  write(fd: number, count = 1): void {
    const irqfd = this.irqfds.get(fd);
    if (irqfd) {
      // irqfd_wakeup consumes the whole counter and injects once.
      this.counts.set(fd, 0);
      this.inject(irqfd);
      return;
    }
    this.counts.set(fd, (this.counts.get(fd) ?? 0) + count);
  }
  close(fd: number): void {
    this.counts.delete(fd);
  }
  count(fd: number): number {
    return this.counts.get(fd) ?? 0;
  }

  // ---- FdWatcher ----
  watch(fd: number, handler: FdHandler): void {
    if (this.handlers.has(fd)) throw new Error(`fd ${fd} already watched`);
    this.handlers.set(fd, handler);
  }
  unwatch(fd: number): number {
    this.handlers.delete(fd);
    const q = this.queued.get(fd) ?? 0;
    this.queued.delete(fd);
    return q;
  }
  isWatched(fd: number): boolean {
    return this.handlers.has(fd);
  }
  /** The epoll thread: read every readable watched fd, queue the counts. */
  poll(): void {
    for (const fd of this.handlers.keys()) {
      const c = this.read(fd);
      if (c > 0) this.queued.set(fd, (this.queued.get(fd) ?? 0) + c);
    }
  }
  /** The threadsafe-function callback on the JS thread. */
  dispatch(): void {
    const q = [...this.queued];
    this.queued.clear();
    for (const [fd, c] of q) this.handlers.get(fd)?.(c);
  }
  /** poll() then dispatch(). */
  settle(): void {
    this.poll();
    this.dispatch();
  }

  // ---- resample (level INTx) ----
  /** Guest EOI of `gsi`: deassert the resampler and write every resamplefd on it. */
  eoi(gsi: number): void {
    this.levels.set(gsi, 0);
    for (const r of this.irqfds.values()) if (r.gsi === gsi && r.resampleFd !== undefined) this.write(r.resampleFd);
  }

  vectorsDelivered(vector: number): number {
    return this.deliveries.filter((d) => d.vector === vector).length;
  }

  private inject(r: Irqfd): void {
    if (r.resampleFd !== undefined) {
      if (this.levels.get(r.gsi) === 1) return; // already asserted: no new edge
      this.levels.set(r.gsi, 1);
      this.deliveries.push({ vector: r.gsi, via: 'level', gsi: r.gsi });
      return;
    }
    const route = this.table.find((e) => e.gsi === r.gsi);
    if (route?.type === 'msi') this.deliveries.push({ vector: route.msg.data & 0xff, via: 'irqfd', gsi: r.gsi });
  }
}
