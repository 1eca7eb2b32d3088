// QueueNotifiers against a fake VM: ioeventfd registrations follow the BAR, fall back from
// any-length to 16-bit registrations, and the slow path signals the kick eventfd.
import { describe, expect, it } from 'vitest';
import type { EventFdOps } from '../irq/eventfd.js';
import { QueueNotifiers } from './queue-notifiers.js';

function fakes(refuseAnyLength = false) {
  const calls: string[] = [];
  const counts = new Map<number, number>();
  let next = 100;
  const efd: EventFdOps = {
    create: () => next++,
    read: (fd) => counts.get(fd) ?? 0,
    write: (fd, n = 1) => void counts.set(fd, (counts.get(fd) ?? 0) + n),
    close: (fd) => void calls.push(`close ${fd}`),
  };
  const vm = {
    ioeventfd(addr: number, len: number, fd: number, o: { deassign?: boolean } = {}) {
      if (refuseAnyLength && len === 0 && !o.deassign) throw new Error('EINVAL');
      calls.push(`${o.deassign ? 'del' : 'add'} 0x${addr.toString(16)}/${len} fd${fd}`);
    },
  };
  return { calls, counts, efd, vm };
}

describe('QueueNotifiers', () => {
  it('registers each queue at its address and moves the registrations with the BAR', () => {
    const f = fakes();
    const n = new QueueNotifiers(f.vm, f.efd, 2);
    n.update((q) => 0xc0003000 + 4 * q);
    n.update((q) => 0xc0003000 + 4 * q); // unchanged: nothing
    n.update((q) => 0xd0003000 + 4 * q);
    n.update(() => undefined);
    expect(f.calls).toEqual([
      'add 0xc0003000/0 fd100', 'add 0xc0003004/0 fd101',
      'del 0xc0003000/0 fd100', 'add 0xd0003000/0 fd100', 'del 0xc0003004/0 fd101', 'add 0xd0003004/0 fd101',
      'del 0xd0003000/0 fd100', 'del 0xd0003004/0 fd101',
    ]);
    expect(n.inKernel).toBe(0);
  });

  it('falls back to 16-bit registrations when any-length is refused', () => {
    const f = fakes(true);
    const n = new QueueNotifiers(f.vm, f.efd, 1);
    n.update(() => 0x1000);
    expect(f.calls).toEqual(['add 0x1000/2 fd100']);
    expect(n.stats).toMatchObject({ registrations: 1, refused: 0 });
  });

  it('signals the kick eventfd on the slow path and closes the fds on dispose', () => {
    const f = fakes();
    const n = new QueueNotifiers(undefined, f.efd, 2);
    n.signal(1);
    n.signal(5); // no such queue
    expect(f.counts.get(101)).toBe(1);
    expect(n.stats.slowPath).toBe(1);
    n.dispose();
    expect(f.calls).toEqual(['close 100', 'close 101']);
  });
});
