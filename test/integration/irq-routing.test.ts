// Interrupt routing on real KVM: a tiny real-mode guest with an x2APIC counts interrupts
// while the host drives irqfd delivery, masking with pending delivery, GSI exhaustion with
// KVM_SIGNAL_MSI fallback, and a level-triggered INTx line with resamplefd.
// This machine's KVM (kvm_pvm) acts as if every LAPIC interrupt were EOI'd on delivery, so
// the checks are on counts, never on ISR state.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startIrqGuest, LEVEL_VECTOR, MSI_VECTOR, type IrqGuest } from '../support/irq-guest.js';
import { KvmInterruptManager } from '../../core/irq/kvm-interrupt-manager.js';
import { KvmMsiGroup } from '../../core/irq/kvm-msi-group.js';
import { nativeEventFds } from '../../core/irq/eventfd.js';
import { pcKernelRoutes } from '../../core/machine/irqchip.js';
import type { GsiRouter } from '../../core/irq/gsi-router.js';

const hasKvm = existsSync('/dev/kvm');
if (!hasKvm) console.log('SKIP irq-routing: /dev/kvm is absent on this machine');

const msg = (vector: number) => ({ addressLo: 0xfee00000, addressHi: 0, data: vector });
const kernelChip = { attachRouter: (r: GsiRouter) => r.setFixedRoutes(pcKernelRoutes()) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

describe.skipIf(!hasKvm)('interrupt routing on KVM', () => {
  let g: IrqGuest;
  let im: KvmInterruptManager;
  const efd = nativeEventFds();

  beforeEach(async () => {
    g = await startIrqGuest();
    im = new KvmInterruptManager({ vm: g.vm, irqchip: kernelChip });
    await g.ready;
  });
  afterEach(async () => {
    im.dispose();
    await g.dispose();
  });

  it('delivers eventfd writes through the irqfd', async () => {
    const grp = im.createMsiGroup({ device: 'lab', vectors: 2 });
    grp.enable();
    const fd = grp.notifierFd(0);
    grp.update(0, msg(MSI_VECTOR), false);
    expect(grp.stats()[0]).toMatchObject({ path: 'irqfd', gsi: 24 });
    const n = 200;
    const t0 = process.hrtime.bigint();
    for (let i = 1; i <= n; i++) {
      efd.write(fd);
      await until(() => g.msiCount() === i, `interrupt ${i}`);
    }
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    console.log(`irqfd: ${n} interrupts, ${us.toFixed(1)} us per write-to-handler round trip (incl. host polling)`);
    await sleep(20);
    expect(g.msiCount()).toBe(n);
  });

  it('masked vector: signals become pending, unmask delivers exactly once', async () => {
    const pba: boolean[] = [false];
    const grp = im.createMsiGroup({ device: 'lab', vectors: 1, onPending: (i, p) => (pba[i] = p) });
    grp.enable();
    const fd = grp.notifierFd(0);
    grp.update(0, msg(MSI_VECTOR), false);
    efd.write(fd);
    await until(() => g.msiCount() === 1, 'first interrupt');
    grp.update(0, msg(MSI_VECTOR), true);
    expect(grp.stats()[0]!.path).toBe('userspace');
    for (let i = 0; i < 5; i++) efd.write(fd);
    await until(() => pba[0] === true, 'pending bit from the fd watcher');
    await sleep(30);
    expect(g.msiCount()).toBe(1);
    grp.update(0, msg(MSI_VECTOR), false);
    await until(() => g.msiCount() === 2, 'delivery after unmask');
    await sleep(50);
    expect(g.msiCount()).toBe(2);
    expect(pba[0]).toBe(false);
    expect(grp.stats()[0]).toMatchObject({ path: 'irqfd', firedWhileMasked: 5, deliveredAfterUnmask: 1 });
    efd.write(fd); // and the irqfd works again
    await until(() => g.msiCount() === 3, 'irqfd after unmask');
  });

  it('mask/unmask cycles with a writer racing them lose nothing and duplicate nothing', async () => {
    const grp = im.createMsiGroup({ device: 'lab', vectors: 1 });
    grp.enable();
    const fd = grp.notifierFd(0);
    grp.update(0, msg(MSI_VECTOR), true);
    let writes = 0;
    for (let cycle = 0; cycle < 100; cycle++) {
      const before = g.msiCount();
      efd.write(fd);
      writes++;
      if (cycle % 3 === 0) await sleep(0); // sometimes let the watcher see it while masked
      grp.update(0, msg(MSI_VECTOR), false);
      await until(() => g.msiCount() === before + 1, `delivery in cycle ${cycle}`);
      grp.update(0, msg(MSI_VECTOR), true);
    }
    await sleep(50);
    expect(g.msiCount()).toBe(writes);
  });

  it('exhausted routes: fallback through KVM_SIGNAL_MSI, back to irqfd when routes free up', async () => {
    const router = im.router;
    const filler: number[] = [];
    router.batch(() => {
      for (let gsi = router.allocate({ device: 'filler' }); gsi !== null; gsi = router.allocate({ device: 'filler' })) {
        router.setMsiRoute(gsi, msg(0x30));
        filler.push(gsi);
      }
    });
    expect(router.stats()).toMatchObject({ entries: 4096, msiRoutes: 4096 - 38 });
    const grp = im.createMsiGroup({ device: 'lab', vectors: 1 }) as KvmMsiGroup;
    grp.enable();
    const fd = grp.notifierFd(0);
    grp.update(0, msg(MSI_VECTOR), false);
    expect(grp.path(0)).toBe('fallback');
    for (let i = 1; i <= 20; i++) {
      efd.write(fd);
      await until(() => g.msiCount() === i, `fallback interrupt ${i}`);
    }
    expect(grp.stats()[0]).toMatchObject({ path: 'fallback', injected: 20, gsi: null });
    router.release(filler.pop()!);
    expect(grp.path(0)).toBe('irqfd');
    efd.write(fd);
    await until(() => g.msiCount() === 21, 'irqfd interrupt after the routes came back');
    expect(grp.stats()[0]!.injected).toBe(20);
  });

  it('KVM injects an eventfd signalled before KVM_IRQFD assign and leaves its counter', async () => {
    const router = im.router;
    const gsi = router.allocate({ device: 'probe' })!;
    router.setMsiRoute(gsi, msg(MSI_VECTOR));
    const fd = efd.create();
    efd.write(fd);
    g.vm.irqfd(fd, gsi);
    await until(() => g.msiCount() === 1, 'injection at assign');
    expect(efd.read(fd)).toBe(1); // the stale count the group drains and discards after assign
    g.vm.irqfd(fd, gsi, { deassign: true });
    efd.close(fd);
  });

  it('level INTx with resamplefd: re-asserts while the device has work, then stops', async () => {
    const GSI = 10;
    g.routeLevelPin(GSI);
    const line = im.createIntxGroup({ device: 'levdev', gsi: GSI, pin: 1 });
    line.enable();
    let work = 5;
    g.onService = () => {
      if (work > 0 && --work === 0) line.setLevel(false);
    };
    line.setLevel(true);
    await until(() => work === 0, 'device work drained', 3000);
    await sleep(100);
    const count = g.levelCount();
    const st = line.stats()[0]!;
    console.log(`INTx: ${count} interrupts for 5 work items, ${st.resamples} resamples, ${st.reasserts} re-asserts`);
    // With a real EOI the count is exactly 5. kvm_pvm EOIs at delivery, so the resample can
    // come before the handler services the device: at most one extra (spurious for the
    // device) interrupt. Either way the line must stop once the device deasserts.
    expect(count).toBeGreaterThanOrEqual(5);
    expect(count).toBeLessThanOrEqual(6);
    expect(st.reasserts).toBe(count - 1);
    await sleep(100);
    expect(g.levelCount()).toBe(count);
  });
});
