import { describe, expect, it } from 'vitest';
import { GsiRouter } from './gsi-router.js';
import { FakeKernel } from './fake-kernel.js';
import type { GsiRoute } from '../kvm/vm.js';
import { pcKernelRoutes } from '../machine/irqchip.js';

const msg = (v: number) => ({ addressLo: 0xfee00000, addressHi: 0, data: v });
const owner = { device: 'dev' };
const fixed: GsiRoute[] = [
  { gsi: 0, type: 'irqchip', irqchip: 0, pin: 0 },
  { gsi: 1, type: 'irqchip', irqchip: 2, pin: 1 },
];

describe('GsiRouter', () => {
  it('keeps the fixed routes in every commit and allocates MSI GSIs from 24', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm);
    r.setFixedRoutes(fixed);
    const a = r.allocate(owner)!;
    r.setMsiRoute(a, msg(0x40));
    expect(a).toBe(24);
    expect(k.routingCalls).toHaveLength(2);
    expect(k.table.map((e) => e.gsi)).toEqual([0, 1, 24]);
    r.setMsiRoute(a, msg(0x40)); // unchanged: no commit
    expect(k.routingCalls).toHaveLength(2);
    expect(r.routes()[0]!.updates).toBe(1);
  });

  it('shows the fixed routes KVM holds: the last commit, as a copy', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm);
    expect(r.fixedRoutes()).toEqual([]);
    r.setFixedRoutes(fixed);
    expect(r.fixedRoutes()).toEqual(fixed);
    const pin4: GsiRoute = { gsi: 4, type: 'msi', msg: msg(0x24) };
    r.batch(() => {
      r.setFixedRoutes([pin4]);
      expect(r.fixedRoutes()).toEqual(fixed); // not in KVM yet
    });
    expect(r.fixedRoutes()).toEqual([pin4]);
    const view = r.fixedRoutes() as GsiRoute[];
    (view[0] as { msg: { data: number } }).msg.data = 0x99;
    view.length = 0;
    expect(r.fixedRoutes()).toEqual([pin4]);
    expect(k.table).toEqual([{ gsi: 4, type: 'msi', msg: msg(0x24) }]);
  });

  it('reuses freed GSIs before fresh ones', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm);
    const [a, b, c] = [r.allocate(owner)!, r.allocate(owner)!, r.allocate(owner)!];
    expect([a, b, c]).toEqual([24, 25, 26]);
    r.release(b);
    expect(r.allocate(owner)).toBe(25);
    expect(r.allocate(owner)).toBe(27);
    expect(r.stats()).toMatchObject({ allocations: 5, reuses: 1, frees: 1, msiRoutes: 4 });
  });

  it('commits a batch once, then runs afterCommit callbacks', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm);
    r.setFixedRoutes(fixed);
    const seen: number[] = [];
    r.batch(() => {
      for (let i = 0; i < 100; i++) {
        const g = r.allocate(owner)!;
        r.setMsiRoute(g, msg(i));
        r.afterCommit(() => seen.push(k.table.length));
      }
      r.batch(() => r.setMsiRoute(24, msg(0xff))); // nested: still one commit
      expect(k.routingCalls).toHaveLength(1); // only setFixedRoutes so far
    });
    expect(k.routingCalls).toHaveLength(2);
    expect(seen).toHaveLength(100);
    expect(seen.every((n) => n === 102)).toBe(true);
  });

  it('reports exhaustion instead of throwing, counting entries including fixed ones', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm, { maxRoutes: 5 });
    r.setFixedRoutes(fixed);
    const got = [r.allocate(owner), r.allocate(owner), r.allocate(owner), r.allocate(owner)];
    expect(got).toEqual([24, 25, 26, null]);
    expect(r.stats().exhausted).toBe(1);
  });

  it('fills the real 4096-entry table (with the PC routes) and refuses the next route', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm);
    r.setFixedRoutes(pcKernelRoutes()); // 38 entries on GSIs 0..23
    r.batch(() => {
      for (let g = r.allocate(owner); g !== null; g = r.allocate(owner)) r.setMsiRoute(g, msg(g & 0xff));
    });
    expect(k.table).toHaveLength(4096);
    expect(r.stats()).toMatchObject({ msiRoutes: 4096 - 38, exhausted: 1, commits: 2 });
  });

  it('tells listeners after a commit that freed routes', () => {
    const k = new FakeKernel();
    const r = new GsiRouter(k.vm, { maxRoutes: 1 });
    const g = r.allocate(owner)!;
    r.setMsiRoute(g, msg(1));
    const tables: number[] = [];
    r.onRoutesFreed(() => tables.push(k.table.length));
    r.release(g);
    expect(tables).toEqual([0]);
  });
});
