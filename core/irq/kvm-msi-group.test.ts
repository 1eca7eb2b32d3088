import { describe, expect, it } from 'vitest';
import { FakeKernel } from './fake-kernel.js';
import { GsiRouter } from './gsi-router.js';
import { KvmMsiGroup } from './kvm-msi-group.js';

const msg = (v: number) => ({ addressLo: 0xfee00000, addressHi: 0, data: v });

function setup(vectors = 4, maxRoutes?: number) {
  const k = new FakeKernel();
  const router = new GsiRouter(k.vm, maxRoutes === undefined ? {} : { maxRoutes });
  const pba: boolean[] = new Array(vectors).fill(false);
  const ctx = { vm: k.vm, router, watcher: k, eventfds: k };
  const g = new KvmMsiGroup(ctx, { device: 'lab', function: 0, vectors, onPending: (i, p) => (pba[i] = p) });
  g.enable();
  return { k, router, g, pba, ctx };
}

describe('KvmMsiGroup', () => {
  it('delivers eventfd writes through the irqfd without the VMM', () => {
    const { k, g } = setup();
    const fd = g.notifierFd(0);
    g.update(0, msg(0x40), false);
    expect(g.path(0)).toBe('irqfd');
    k.write(fd);
    k.write(fd);
    g.trigger(0);
    expect(k.deliveries).toEqual([0, 1, 2].map(() => ({ vector: 0x40, via: 'irqfd', gsi: 24 })));
  });

  it('masked signals set the pending bit; unmask delivers exactly once', () => {
    const { k, g, pba } = setup();
    const fd = g.notifierFd(1);
    g.update(1, msg(0x41), false);
    g.update(1, msg(0x41), true);
    expect(g.path(1)).toBe('userspace');
    expect(k.irqfdCalls.at(-1)).toMatchObject({ deassign: true });
    k.write(fd);
    k.write(fd);
    k.settle();
    k.write(fd);
    k.settle();
    expect(pba[1]).toBe(true);
    expect(k.vectorsDelivered(0x41)).toBe(0);
    g.update(1, msg(0x41), false);
    expect(pba[1]).toBe(false);
    expect(k.vectorsDelivered(0x41)).toBe(1);
    expect(g.stats()[1]).toMatchObject({ path: 'irqfd', total: 3, coalesced: 2, firedWhileMasked: 3, deliveredAfterUnmask: 1 });
    k.settle();
    expect(k.vectorsDelivered(0x41)).toBe(1);
  });

  it('signals read by the watcher thread but not yet dispatched are delivered once on unmask', () => {
    const { k, g } = setup();
    const fd = g.notifierFd(0);
    g.update(0, msg(0x42), true);
    k.write(fd);
    k.poll(); // the thread read the counter; the JS callback has not run yet
    k.write(fd); // and one more still in the eventfd
    g.update(0, msg(0x42), false);
    k.dispatch(); // the stale batch: must not deliver again
    expect(k.vectorsDelivered(0x42)).toBe(1);
    expect(g.stats()[0]).toMatchObject({ total: 2, deliveredAfterUnmask: 1, pending: false });
  });

  it('a signal racing the irqfd assign is delivered by KVM and not again later', () => {
    const { k, g } = setup();
    const fd = g.notifierFd(0);
    g.update(0, msg(0x43), true);
    k.beforeAssign = (f) => f === fd && k.write(fd); // lands after our drain, before KVM polls
    g.update(0, msg(0x43), false);
    k.beforeAssign = null;
    expect(k.vectorsDelivered(0x43)).toBe(1);
    g.update(0, msg(0x43), true); // the stale counter must not turn into a pending bit
    k.settle();
    g.update(0, msg(0x43), false);
    expect(k.vectorsDelivered(0x43)).toBe(1);
  });

  it('updates the route when the message changed while masked', () => {
    const { k, g } = setup();
    g.update(0, msg(0x44), false);
    g.update(0, msg(0x44), true);
    g.update(0, msg(0x45), true);
    const calls = k.routingCalls.length;
    g.update(0, msg(0x45), false);
    expect(k.routingCalls.length).toBe(calls + 1);
    g.trigger(0);
    expect(k.deliveries.at(-1)).toMatchObject({ vector: 0x45, via: 'irqfd' });
  });

  it('falls back to KVM_SIGNAL_MSI when routes run out and returns to irqfd when freed', () => {
    const { k, g, ctx } = setup(2, 2);
    const other = new KvmMsiGroup(ctx, { device: 'filler', vectors: 2 });
    other.enable();
    other.update(0, msg(0x30), false);
    other.update(1, msg(0x31), false);
    const fd = g.notifierFd(0);
    g.update(0, msg(0x46), false);
    expect(g.path(0)).toBe('fallback');
    k.write(fd);
    k.write(fd);
    k.settle();
    expect(k.deliveries.filter((d) => d.vector === 0x46)).toEqual([{ vector: 0x46, via: 'msi' }]);
    expect(g.stats()[0]).toMatchObject({ path: 'fallback', coalesced: 1, injected: 1, gsi: null });
    k.write(fd);
    k.poll(); // read by the thread, not dispatched when the routes come back
    other.disable();
    expect(g.path(0)).toBe('irqfd');
    k.dispatch();
    expect(k.vectorsDelivered(0x46)).toBe(2);
    k.write(fd);
    expect(k.deliveries.at(-1)).toMatchObject({ vector: 0x46, via: 'irqfd' });
    expect(ctx.router.stats().exhausted).toBe(1);
  });

  it('commits one routing table for a function-wide unmask', () => {
    const { k, g, router } = setup(64);
    router.batch(() => {
      for (let i = 0; i < 64; i++) g.update(i, msg(0x50 + i), true);
    });
    const before = k.routingCalls.length;
    router.batch(() => {
      for (let i = 0; i < 64; i++) g.update(i, msg(0x50 + i), false);
    });
    expect(k.routingCalls.length).toBe(before + 1);
    expect(g.stats().every((s) => s.path === 'irqfd')).toBe(true);
  });

  it('trigger on a masked vector sets pending; disable releases the routes', () => {
    const { g, router, pba } = setup();
    g.update(2, msg(0x47), false);
    expect(router.stats().msiRoutes).toBe(1);
    g.update(2, msg(0x47), true);
    g.trigger(2);
    g.trigger(2);
    expect(pba[2]).toBe(true);
    expect(g.stats()[2]).toMatchObject({ firedWhileMasked: 2, coalesced: 1 });
    g.disable();
    expect(router.stats().msiRoutes).toBe(0);
    expect(g.pollPending(2)).toBe(true);
  });

  it('pollPending picks up signals not yet reported', () => {
    const { k, g, pba } = setup();
    const fd = g.notifierFd(3);
    g.update(3, msg(0x48), true);
    k.write(fd);
    expect(g.pollPending(3)).toBe(true);
    expect(pba[3]).toBe(true);
  });

  it('no loss and no duplication under random interleavings', () => {
    for (let seed = 1; seed <= 50; seed++) {
      let s = seed;
      const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) % 100) / 100;
      const { k, g, ctx } = setup(1, 1);
      const filler = new KvmMsiGroup(ctx, { device: 'filler', vectors: 1 });
      const fd = g.notifierFd(0);
      let masked = true;
      let signalledSinceDelivery = false;
      g.update(0, msg(0x60), true);
      for (let step = 0; step < 200; step++) {
        const r = rnd();
        const before = k.vectorsDelivered(0x60);
        if (r < 0.35) {
          k.write(fd);
          signalledSinceDelivery = true;
        } else if (r < 0.5) k.poll();
        else if (r < 0.65) k.dispatch();
        else if (r < 0.8) g.update(0, msg(0x60), (masked = !masked));
        else if (r < 0.9) filler.enable(), filler.update(0, msg(0x30), false);
        else filler.disable();
        const after = k.vectorsDelivered(0x60);
        if (after > before) {
          expect(after - before).toBe(1); // one delivery per step at most
          expect(signalledSinceDelivery).toBe(true); // never without a new signal
          signalledSinceDelivery = false;
        }
      }
      // Unmask, drain everything: whatever was signalled must have been delivered.
      const before = k.vectorsDelivered(0x60);
      if (masked) g.update(0, msg(0x60), false);
      k.settle();
      k.settle();
      const after = k.vectorsDelivered(0x60);
      expect(after - before).toBeLessThanOrEqual(1);
      if (after > before) expect(signalledSinceDelivery).toBe(true);
      else expect(signalledSinceDelivery).toBe(false);
    }
  });
});
