// The irq-lab device on real KVM: its device process, started and supervised by the VMM
// side, raises MSI-X vectors by writing the eventfds the interrupt layer gave it, and a
// tiny real-mode guest (test/support/irq-guest.ts) counts them. The test plays the guest's
// driver from the host (config space and MSI-X table writes go through the same emulation
// the guest would hit); the guest's vector-0x41 handler stands in for the ACK register
// write of the latency protocol. Also: a machine built from a profile entry runs the
// device next to a lab guest.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startIrqGuest, LEVEL_VECTOR, MSI_VECTOR, type IrqGuest } from '../support/irq-guest.js';
import { KvmInterruptManager } from '../../core/irq/kvm-interrupt-manager.js';
import { pcKernelRoutes } from '../../core/machine/irqchip.js';
import type { GsiRouter } from '../../core/irq/gsi-router.js';
import { IrqLabDevice } from '../../core/irq-lab/device.js';
import { REG } from '../../core/irq-lab/regs.js';
import { MSIX_CAP, MSIX_CTRL_ENABLE } from '../../core/pci/msix.js';
import { guestPath, hasKvm as kvmPresent, labResults, GUEST_QUIRKS } from '../support/guests.js';
import { runMachine } from '../../core/machine/run.js';
import { DEFAULT_DEVICES } from '../../core/machine/config.js';
import type { Machine } from '../../core/machine/machine.js';
import { sampleMachine, type MachineStats } from '../../core/stats/machine-stats.js';
import { flattenCounters } from '../../core/stats/stream.js';
import { formatStats } from '../../core/stats/format.js';

const hasKvm = existsSync('/dev/kvm') && kvmPresent;
if (!hasKvm) console.log('SKIP irq-lab: /dev/kvm is absent on this machine');

const kernelChip = { attachRouter: (r: GsiRouter) => r.setFixedRoutes(pcKernelRoutes()) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

describe.skipIf(!hasKvm)('irq-lab device on KVM', () => {
  let g: IrqGuest;
  let im: KvmInterruptManager;
  let dev: IrqLabDevice;
  const failures: string[] = [];

  beforeEach(async () => {
    g = await startIrqGuest();
    im = new KvmInterruptManager({ vm: g.vm, irqchip: kernelChip });
    await g.ready;
    failures.length = 0;
    dev = new IrqLabDevice({ type: 'irq-lab', msix: { vectors: 64, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x8000 } }, {
      name: 'irq-lab0', vm: g.vm, interrupts: im, ram: g.ram, layout: g.ram.memory.layout, runDir: '/tmp',
      log: () => {}, onFailure: (r) => failures.push(r), intxGsi: () => 16,
    });
    await dev.start();
  });
  afterEach(async () => {
    await dev.stop();
    im.dispose();
    await g.dispose();
  });

  /** What the guest's driver would do: enable MSI-X and program entry v. */
  function program(v: number, vector: number, masked = false): void {
    const ctl = dev.msix.offset + MSIX_CAP.control;
    dev.fn.config.write(ctl, 2, MSIX_CTRL_ENABLE);
    dev.msix.table.write(v * 16, 4, 0xfee00000);
    dev.msix.table.write(v * 16 + 4, 4, 0);
    dev.msix.table.write(v * 16 + 8, 4, vector);
    dev.msix.table.write(v * 16 + 12, 4, masked ? 1 : 0);
  }
  const setMask = (v: number, masked: boolean) => dev.msix.table.write(v * 16 + 12, 4, masked ? 1 : 0);
  const pbaBit = (v: number) => ((dev.msix.pba.read((v >> 5) * 4, 4) >>> (v & 31)) & 1) === 1;

  it('starts the process; host-fired vectors reach the guest through the irqfd', async () => {
    expect(dev.state).toBe('running');
    expect(dev.pid).toBeGreaterThan(0);
    program(3, MSI_VECTOR);
    expect(dev.interruptStats()[3]).toMatchObject({ path: 'irqfd' });
    for (let i = 1; i <= 20; i++) {
      dev.fireFromHost(3);
      await until(() => g.msiCount() === i, `interrupt ${i}`);
    }
    // Throughput: one burst, as fast as the device can write the eventfd.
    const n = 100_000;
    const before = g.msiCount();
    const t0 = process.hrtime.bigint();
    dev.fireFromHost(3, n);
    let s = await dev.queryStats();
    while (s.fired < 20 + n) s = await dev.queryStats();
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    await sleep(50);
    const handled = g.msiCount() - before;
    console.log(`irq-lab irqfd burst: ${n} raises in ${(sec * 1000).toFixed(0)} ms = ${Math.round(n / sec)} raises/s; guest handled ${handled} (${Math.round(handled / sec)}/s, the rest coalesced in the LAPIC IRR)`);
    expect(s.perVector[3]).toBe(20 + n);
    expect(handled).toBeGreaterThan(0);
    expect(handled).toBeLessThanOrEqual(n);
    expect(dev.regs.read(REG.firedLo, 4)).toBe(20 + n);
  });

  it('pairs ACKs with raises into the latency histogram', async () => {
    program(1, LEVEL_VECTOR);
    g.onService = () => dev.regs.write(REG.ack, 4, 1); // the guest handler's ACK write
    const n = 50;
    for (let i = 1; i <= n; i++) {
      dev.fireFromHost(1);
      await until(() => g.levelCount() === i, `interrupt ${i}`);
    }
    await until(() => dev.regs.read(REG.ackedLo, 4) === n, 'acks');
    const s = await dev.queryStats();
    expect(s).toMatchObject({ acked: n, paired: n, unpaired: 0 });
    expect(s.buckets.reduce((a, b) => a + b, 0)).toBe(n);
    const median = s.buckets.findIndex((_, i) => s.buckets.slice(0, i + 1).reduce((a, b) => a + b, 0) >= n / 2);
    console.log(`irq-lab latency (device raise -> guest handler -> ACK back at the device): median bucket ${median} (${median < 64 ? `${median} us` : 'log2 bucket'})`);
  });

  it('a masked vector pends in the PBA and is delivered once on unmask', async () => {
    program(5, MSI_VECTOR);
    dev.fireFromHost(5);
    await until(() => g.msiCount() === 1, 'first interrupt');
    setMask(5, true);
    expect(dev.interruptStats()[5]!.path).toBe('userspace');
    dev.fireFromHost(5, 7);
    await until(() => pbaBit(5), 'pending bit');
    await sleep(30);
    expect(g.msiCount()).toBe(1);
    setMask(5, false);
    await until(() => g.msiCount() === 2, 'delivery after unmask');
    await sleep(50);
    expect(g.msiCount()).toBe(2);
    expect(pbaBit(5)).toBe(false);
    expect(dev.interruptStats()[5]).toMatchObject({ path: 'irqfd', deliveredAfterUnmask: 1, firedWhileMasked: 7 });
  });

  it('survives a host flood: 200 bursts back to back leave it running, every raise performed or counted as dropped', async () => {
    program(6, MSI_VECTOR);
    const bursts = 200;
    const each = 100_000;
    // No await between the calls: without flow control this filled the socket and failed the device.
    for (let i = 0; i < bursts; i++) dev.fireFromHost(6, each);
    expect(dev.state).toBe('running');
    const queued = dev.deviceStats();
    expect(queued['queuedRaises']).toBeGreaterThan(0);
    expect(queued['coalesced']).toBeGreaterThan(0);
    await until(() => {
      const d = dev.deviceStats();
      return d['queuedRaises'] === 0 && d['inFlight'] === 0;
    }, 'the backlog to drain', 55_000);
    const s = await dev.queryStats();
    const d = dev.deviceStats();
    console.log(`irq-lab flood: ${bursts * each} raises asked, ${s.perVector[6]} performed, ${d['droppedRaises']} dropped over the per-vector cap, ${d['coalesced']} commands coalesced`);
    expect(s.perVector[6]! + (d['droppedRaises'] as number)).toBe(bursts * each);
    expect(s.fired).toBe(s.perVector[6]);
    expect(d['requested']).toBe(bursts * each);
    expect(dev.state).toBe('running');
    expect(failures).toEqual([]);
    dev.fireFromHost(6); // still answering
    await until(() => dev.deviceStats()['inFlight'] === 0 && dev.deviceStats()['queuedRaises'] === 0, 'one more raise');
  }, 60_000);

  it('a killed device process marks the device failed; the VM keeps running; restart works', async () => {
    program(2, MSI_VECTOR);
    dev.fireFromHost(2);
    await until(() => g.msiCount() === 1, 'first interrupt');
    const oldPid = dev.pid;
    dev.killProcess();
    await until(() => dev.state === 'failed', 'failed state');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/SIGKILL/);
    expect(() => dev.fireFromHost(2)).toThrow(/failed/);
    dev.regs.write(REG.fire, 4, 2); // a guest doorbell while failed: dropped, counted
    expect(dev.deviceStats()['droppedCommands']).toBe(1);
    dev.msixGroup.trigger(2); // the VM and its interrupt fabric still work
    await until(() => g.msiCount() === 2, 'VMM-raised interrupt while the device is failed');
    await dev.restart();
    expect(dev.state).toBe('running');
    expect(dev.pid).not.toBe(oldPid);
    dev.fireFromHost(2, 1);
    await until(() => g.msiCount() === 3, 'interrupt from the restarted process');
  });
});

describe.skipIf(!hasKvm)('irq-lab in a machine', () => {
  it('is built from the profile entry, started before the vCPUs and stopped at the end', async () => {
    let seen: Record<string, number> = {};
    let table = '';
    let machine: Machine | undefined;
    let states: string[] = [];
    const log: string[] = [];
    const result = await runMachine({
      name: 'irq-lab machine', cpus: 1, memoryMiB: 64, irqchip: 'kernel',
      boot: { kind: 'auto', kernel: guestPath('hello'), cmdline: '' },
      devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), { type: 'irq-lab', msix: { vectors: 2048, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0 }, msiVectors: 4 }],
    }, {
      onMachine: (m) => (machine = m),
      onLog: (l) => log.push(l),
      onState: (st) => st === 'running' && (states = machine!.pciDevices.map((d) => d.state)),
      onEnding: (m) => {
        const s = sampleMachine(m);
        seen = flattenCounters(s);
        table = formatStats(s);
      },
    });
    const run = { result, log };
    expect(states).toEqual(['running']);
    expect(machine!.pciDevices[0]!.state).toBe('stopped');
    expect(run.result.reason).toBe('debug-exit');
    expect(run.log.join('\n')).not.toMatch(/irq-lab0 failed/);
    expect(seen['pci.irq-lab0.failures']).toBe(0);
    expect(table).toMatch(/irq-lab0/);
  });
});

/** Run one irq-lab lab guest with one irq-lab device; returns the parsed results and the device's final counters. */
async function runLab(guest: string, irqchip: 'kernel' | 'split', device: Record<string, unknown>, opts: { gsiRouteLimit?: number; extraDevices?: Record<string, unknown>[] } = {}) {
  let output = '';
  let counters: Record<string, number> = {};
  let stats: MachineStats | undefined;
  const result = await runMachine({
    name: guest, cpus: 2, memoryMiB: 64, irqchip,
    boot: { kind: 'auto', kernel: guestPath(guest), cmdline: GUEST_QUIRKS },
    devices: [
      ...DEFAULT_DEVICES.map((d) => ({ ...d })),
      { type: 'irq-lab', ...device } as never,
      ...(opts.extraDevices ?? []).map((d) => ({ type: 'irq-lab', ...d }) as never),
    ],
    gsiRouteLimit: opts.gsiRouteLimit,
  }, {
    onConsole: (b) => (output += Buffer.from(b).toString('latin1')),
    onEnding: (m) => {
      stats = sampleMachine(m);
      counters = flattenCounters(stats);
    },
  });
  return { result, output, lab: labResults(output), counters, stats: stats! };
}

const labGuestsBuilt = ['irqlab-msix', 'irqlab-msi', 'irqlab-intx'].every((g) => existsSync(guestPath(g)));
if (hasKvm && !labGuestsBuilt) console.log('SKIP irq-lab lab guests: guests/out/irqlab-*.elf are not built');

describe.skipIf(!hasKvm || !labGuestsBuilt)('irq-lab lab guests', () => {
  const msix = { msix: { vectors: 256, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0x800 }, msiVectors: 4 };
  // irqlab-intx runs on both irqchips. Its `auto` scenario used to fail ~1 run in 4 with about
  // 750 of 1000 work items done and the line still asserted, which looked like a stall of
  // the in-kernel IOAPIC under kvm_pvm's EOI-on-delivery. It was not a stall: sampling the
  // run (KVM_GET_IRQCHIP every 100 ms, the VMM's INTX_AUTO count and the device process's
  // signal/resample counters every 20-100 ms) showed steady progress at 100-430 items/s on
  // this host, Remote IRR toggling on pin 17 and never stuck, the process's INTx signals
  // always equal to the resamples it got (one re-signal per EOI, none lost), and the longest
  // gap without a completed item 40 ms. The split irqchip runs at the same rate (285-433/s).
  // Each item is a full round trip (interrupt, three MMIO exits, EOI, resample, the process's
  // re-signal), about 3 ms here; the guest's deadline of 3000 + items/10 ms assumed 10,000
  // items/s and expired whenever the host was a little slower than 330/s. The guest now
  // fails only when no item completes for timeout_ms (guests/src/irqlab-intx.c wait_items),
  // so a lost resample still fails and a slow host does not.
  for (const [guest, irqchip] of [['irqlab-msix', 'kernel'], ['irqlab-msix', 'split'], ['irqlab-msi', 'kernel'], ['irqlab-intx', 'split'], ['irqlab-intx', 'kernel']] as const) {
    it(`${guest} passes (${irqchip} irqchip)`, async () => {
      const r = await runLab(guest, irqchip, msix);
      expect(r.lab.failed, r.output).toEqual([]);
      expect(r.lab.done?.fail).toBe(0);
      expect(r.result.status).toBe(0);
      // Every raise the VMM forwarded was done by the process, every ACK reached it, and the
      // guest saw at least the handler runs it reports.
      const c = r.counters;
      expect(c['pci.irq-lab0.fired']).toBe(c['pci.irq-lab0.requested']);
      expect(c['pci.irq-lab0.deviceAcked']).toBe(c['pci.irq-lab0.acked']);
      expect(c['pci.irq-lab0.raiseErrors'] ?? 0).toBe(0);
      const last = /^LAB-COUNT device=0 raised=(\d+) fired=(\d+) handled=(\d+) acked=(\d+)/m.exec(r.output);
      if (last) expect(c['pci.irq-lab0.acked']).toBeGreaterThanOrEqual(Number(last[4]));
    });
  }
});

describe.skipIf(!hasKvm || !labGuestsBuilt)('irq-lab lab guests: large tables and route exhaustion', () => {
  it('irqlab-msix with a 2048-vector table: every vector handled exactly once, counts match the VMM', async () => {
    const r = await runLab('irqlab-msix', 'kernel', { msix: { vectors: 2048, tableBar: 2, tableOffset: 0x1000, pbaBar: 2, pbaOffset: 0 } });
    expect(r.lab.failed, r.output).toEqual([]);
    expect(r.lab.done?.fail).toBe(0);
    expect(r.counters['pci.irq-lab0.fired']).toBe(r.counters['pci.irq-lab0.requested']);
    const all = /^LAB-COUNT all-once device=0 vectors=0-2047 raised=2048 handled=2048/m.exec(r.output);
    expect(all, r.output).not.toBeNull();
  });

  it('routes run out: vectors fall back to KVM_SIGNAL_MSI and nothing is lost or duplicated', async () => {
    // 38 PC routes + 32 MSI routes for a 256-vector table: 224 vectors must use the fallback.
    const r = await runLab('irqlab-msix', 'kernel', { msix: { vectors: 256, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x1000 } }, { gsiRouteLimit: 70 });
    expect(r.lab.failed, r.output).toEqual([]);
    expect(r.lab.done?.fail).toBe(0);
    const rows = r.stats.pci!.find((d) => d.name === 'irq-lab0')!.irqs.filter((i) => i.label.startsWith('v'));
    // Vectors that went through the VMM were injected with KVM_SIGNAL_MSI (fallback or unmask).
    const viaUserspace = rows.filter((i) => i.injected > 0).length;
    expect(viaUserspace).toBeGreaterThanOrEqual(224);
    expect(r.counters['pci.irq-lab0.fired']).toBe(r.counters['pci.irq-lab0.requested']);
  });
});

describe.skipIf(!hasKvm || !labGuestsBuilt)('irq-lab lab guests: shared INTx', () => {
  it('two devices on one level-triggered line (slots 1 and 5): every work item handled once', async () => {
    const r = await runLab('irqlab-intx', 'split', { slot: 1 }, { extraDevices: [{ slot: 5 }] });
    const pinState = JSON.stringify(r.stats.ioapic!.pins.filter((p) => p.pin >= 16 && p.pin < 20 && p.assertions > 0));
    const dev = JSON.stringify(r.stats.pci!.map((d) => ({ n: d.name, irqs: d.irqs.filter((i) => i.label === 'intx'), dev: d.device })));
    expect(r.lab.failed, `${r.output}\n${pinState}\n${dev}`).toEqual([]);
    expect(r.lab.done?.fail).toBe(0);
    expect(r.output).toMatch(/^LAB-PASS irqlab-intx\.shared/m);
    const pins = r.stats.ioapic!.pins.filter((p) => p.pin >= 16 && p.assertions > 0).map((p) => p.pin);
    expect(pins).toHaveLength(1);
  });
});
