// Queue notifications without VM exits: one kick eventfd per virtqueue, registered with
// KVM_IOEVENTFD on the queue's notification address in BAR4 (virtio 1.1 §4.1.4.4), and
// handed to the vhost-user back-end as the vring KICK fd. A guest write to the address
// then signals the back-end inside the kernel. When the BAR moves (or stops decoding) the
// registrations follow. Writes that still reach the VMM (no registration, e.g. KVM refused
// it, or before the BAR is mapped) are forwarded by signal(), counted as the slow path.
import type { EventFdOps } from '../irq/eventfd.js';
import type { Vm } from '../kvm/vm.js';

/** ioeventfd lengths to try: 0 = any access size (KVM_CAP_IOEVENTFD_ANY_LENGTH), else 16-bit writes. */
const LENGTHS = [0, 2] as const;

export class QueueNotifiers {
  readonly kickFds: number[];
  private readonly registered: (number | undefined)[];
  private len: number | undefined;
  readonly stats = { registrations: 0, deregistrations: 0, refused: 0, slowPath: 0 };

  constructor(
    private readonly vm: Pick<Vm, 'ioeventfd'> | undefined,
    private readonly eventfds: EventFdOps,
    count: number,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.kickFds = Array.from({ length: count }, () => eventfds.create());
    this.registered = new Array<number | undefined>(count).fill(undefined);
  }

  /** Queues whose notifications currently go through the kernel. */
  get inKernel(): number {
    return this.registered.filter((a) => a !== undefined).length;
  }

  /** Move every registration to `addressOf(q)` (undefined: the address is not decoded). */
  update(addressOf: (q: number) => number | undefined): void {
    for (let q = 0; q < this.kickFds.length; q++) {
      const next = addressOf(q);
      const cur = this.registered[q];
      if (cur === next) continue;
      if (cur !== undefined) this.deassign(q, cur);
      if (next !== undefined) this.assign(q, next);
    }
  }

  /** A notification that reached the VMM: pass it on to the back-end. */
  signal(q: number): void {
    const fd = this.kickFds[q];
    if (fd === undefined) return;
    this.stats.slowPath++;
    this.eventfds.write(fd);
  }

  dispose(): void {
    this.update(() => undefined);
    for (const fd of this.kickFds) this.eventfds.close(fd);
    this.kickFds.length = 0;
  }

  private assign(q: number, addr: number): void {
    if (!this.vm) return;
    for (const len of this.len === undefined ? LENGTHS : [this.len]) {
      try {
        this.vm.ioeventfd(addr, len, this.kickFds[q]!);
        this.len = len;
        this.registered[q] = addr;
        this.stats.registrations++;
        return;
      } catch (e) {
        if (len === LENGTHS[LENGTHS.length - 1] || this.len !== undefined) {
          this.stats.refused++;
          this.log(`queue ${q}: KVM_IOEVENTFD at 0x${addr.toString(16)} refused (${(e as Error).message}); notifications take the slow path`);
        }
      }
    }
  }

  private deassign(q: number, addr: number): void {
    this.registered[q] = undefined;
    try {
      this.vm?.ioeventfd(addr, this.len ?? 0, this.kickFds[q]!, { deassign: true });
      this.stats.deregistrations++;
    } catch (e) {
      this.log(`queue ${q}: removing KVM_IOEVENTFD at 0x${addr.toString(16)} failed: ${(e as Error).message}`);
    }
  }
}
