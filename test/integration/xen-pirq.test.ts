// Xen PIRQs on KVM (platform xen-hvm): the xen-pirq lab guest maps an ISA GSI (driven by the
// irq-line testdev) and the irq-lab INTx GSI to PIRQs, binds them to event channels, checks
// level/EOI semantics, then takes an irq-lab MSI-X vector and its plain MSI vector in the
// PIRQ encoding to event channels (unmask-on-bind, FIRE → port) and walks the PHYSDEVOP
// error paths. Its per-port
// hit counts must equal the VMM's per-PIRQ counters.
// The irq-lab device process drives its INTx through the trigger/resample eventfds of a
// Xen-aware INTx group (core/xen/pirq/xen-intx.ts) that reads them in userspace and sends
// each assertion through the GSI hook; PHYSDEVOP_eoi is its resample.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestPath, hasKvm, labResults, GUEST_QUIRKS } from '../support/guests.js';
import { runMachine } from '../../core/machine/run.js';
import { DEFAULT_DEVICES } from '../../core/machine/config.js';
import type { Machine } from '../../core/machine/machine.js';
import { sampleMachine, type MachineStats } from '../../core/stats/machine-stats.js';
import { flattenCounters } from '../../core/stats/stream.js';
import { formatStats } from '../../core/stats/format.js';

const q_ = (s: MachineStats) => s.xen!.pirq;
const built = existsSync(guestPath('xen-pirq'));
if (hasKvm && !built) console.log('SKIP xen-pirq: guests/out/xen-pirq.elf is not built');

describe.skipIf(!hasKvm || !built)('xen-hvm PIRQs', () => {
  for (const [irqchip, cpus] of [['kernel', 1], ['split', 2]] as const) {
    it(`xen-pirq: GSI, device-process INTx, MSI-X and MSI PIRQs bound to ports, EOI re-raise, errnos (irqchip ${irqchip}, ${cpus} vCPU)`, async () => {
      let output = '';
      let stats: MachineStats | undefined;
      let counters: Record<string, number> = {};
      let machine: Machine | undefined;
      const timer = setTimeout(() => void machine?.stop(), 30_000);
      const result = await runMachine({
        name: 'xen-pirq', platform: 'xen-hvm', cpus, memoryMiB: 64, irqchip,
        boot: { kind: 'auto', kernel: guestPath('xen-pirq'), cmdline: `shutdown=1 ${GUEST_QUIRKS}` },
        devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), { type: 'irq-lab', msix: { vectors: 8, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 }, msiVectors: 1 }],
      }, {
        onMachine: (m) => (machine = m),
        onConsole: (b) => (output += Buffer.from(b).toString('latin1')),
        onEnding: (m) => {
          stats = sampleMachine(m);
          counters = flattenCounters(stats);
        },
      }).finally(() => clearTimeout(timer));
      const lab = labResults(output);
      expect(lab.failed, output).toEqual([]);
      expect(lab.passed.length, output).toBeGreaterThanOrEqual(40);
      expect(result, machine?.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
      const q = stats!.xen!.pirq;
      const ports = [...output.matchAll(/pirq-port name=(\S+) pirq=(\d+) port=(\d+) hits=(\d+)/g)];
      expect(ports.map((p) => p[1]), output).toEqual(['gsi5', 'intx', 'msix0', 'msi0']);
      const [, , gsiPirq, , gsiHits] = ports[0]!;
      const [, , , , intxHits] = ports[1]!;
      const [, , msiPirq, , msiHits] = ports[2]!;
      const [, , plainPirq, , plainHits] = ports[3]!;
      expect(Number(plainHits)).toBe(6); // plain MSI: pending on bind + 5 FIREs
      expect(q_(stats!).pirqs.find((r) => r.pirq === Number(plainPirq))).toMatchObject({ kind: 'msi-emu', count: 6, dropped: 0, source: 'irq-lab0 msi 0' });
      expect(Number(gsiHits)).toBe(4); // assert, 2 EOI re-raises, a second assertion
      expect(Number(intxHits)).toBe(4); // the same through the device process's eventfds
      const intx = stats!.pci!.flatMap((d) => d.irqs).find((r) => r.label === 'intx');
      // 4 device signals (2 rising edges + 2 re-signals after PHYSDEVOP_eoi while INTX=1),
      // every one read by the Xen-aware group and raised on the PIRQ's port
      expect(intx, JSON.stringify(stats!.pci)).toMatchObject({ total: 4, injected: 4 });
      expect(Number(msiHits)).toBe(6); // the PBA-pending one on bind + 5 FIREs
      // GSI PIRQ: unmapped by the guest, so gone from the table; the hook counted it.
      expect(q.pirqs.find((r) => r.pirq === Number(gsiPirq))).toBeUndefined();
      expect(q.gsi.raised).toBeGreaterThanOrEqual(8);
      const m = q.pirqs.find((r) => r.pirq === Number(msiPirq));
      expect(m, JSON.stringify(q.pirqs)).toMatchObject({ kind: 'msi-emu', count: 6, dropped: 0, source: 'irq-lab0 msix 0' });
      expect(q.msi.delivered).toBe(12);
      expect(q.msi.unmaskedOnBind).toBe(2);
      expect(q.physdev.errors['map_pirq EINVAL']).toBe(4);
      expect(q.physdev.errors['unmap_pirq ENOENT']).toBe(2);
      expect(counters[`xen.pirq.pirq${msiPirq}.count`]).toBe(6);
      expect(formatStats(stats!)).toMatch(/pirqs: gsi-hook\(/);
    }, 60_000);
  }
});
