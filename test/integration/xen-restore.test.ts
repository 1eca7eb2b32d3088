// Interrupt-state save/restore on KVM (platform xen-hvm; seed 003's post_load question):
// while a Xen lab guest runs its scenarios, the test repeatedly pauses the machine, saves
// its interrupt state, sends it through JSON, restores it — which first wipes the Xen
// platform state to a new domain's and then rebuilds every derived structure from the
// snapshot — and resumes. The guests' own checks must all still pass (events, IPIs,
// VIRQ_TIMER, FIFO queues, PIRQs for a GSI and for MSI-X vectors), and their per-port
// counts must equal the VMM's: nothing lost, nothing delivered twice across a restore.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { guestPath, hasKvm, labResults, GUEST_QUIRKS } from '../support/guests.js';
import { runMachine } from '../../core/machine/run.js';
import { DEFAULT_DEVICES, type MachineConfig } from '../../core/machine/config.js';
import type { Machine } from '../../core/machine/machine.js';
import { sampleMachine, type MachineStats } from '../../core/stats/machine-stats.js';

const EVERY_MS = 250;

interface Cycled {
  output: string;
  stats: MachineStats;
  cycles: number;
  errors: string[];
  result: Awaited<ReturnType<typeof runMachine>>;
  log: string[];
}

/** Run a guest with a pause → save → JSON → restore → resume cycle every EVERY_MS. */
async function runCycling(config: MachineConfig): Promise<Cycled> {
  let output = '';
  let machine: Machine | undefined;
  let stats: MachineStats | undefined;
  let cycles = 0;
  let busy = false;
  const errors: string[] = [];
  const cycle = async (m: Machine): Promise<void> => {
    if (busy || m.state !== 'running') return;
    busy = true;
    try {
      m.pause();
      const saved = JSON.stringify(await m.saveInterruptState());
      await m.restoreInterruptState(JSON.parse(saved));
      cycles++;
    } catch (e) {
      // m.state changes under us (the guest may end mid-cycle); TS narrowed it at pause().
      if ((m.state as string) === 'paused') errors.push((e as Error).message); // ending mid-cycle is fine
    } finally {
      m.resume();
      busy = false;
    }
  };
  const timer = setInterval(() => machine && void cycle(machine), EVERY_MS);
  const stop = setTimeout(() => void machine?.stop(), 55_000);
  try {
    const result = await runMachine(config, {
      onMachine: (m) => (machine = m),
      onConsole: (b) => (output += Buffer.from(b).toString('latin1')),
      onEnding: (m) => (stats = sampleMachine(m)),
    });
    return { output, stats: stats!, cycles, errors, result, log: machine!.log };
  } finally {
    clearInterval(timer);
    clearTimeout(stop);
  }
}

const xenConfig = (name: string, cpus: number, irqchip: 'kernel' | 'split', extra: MachineConfig['devices'] = []): MachineConfig => ({
  name, platform: 'xen-hvm', cpus, memoryMiB: 64, irqchip,
  boot: { kind: 'auto', kernel: guestPath(name), cmdline: `shutdown=1 ${GUEST_QUIRKS}` },
  devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), ...extra],
});

const built = ['xen-fifo', 'xen-pirq', 'xen-evtchn'].every((g) => existsSync(guestPath(g)));

describe.skipIf(!hasKvm || !built)('xen-hvm interrupt state survives save/restore cycles', () => {
  it('xen-fifo (2 vCPUs, split): FIFO queues, priorities, concurrent senders; no event lost or duplicated', async () => {
    const r = await runCycling(xenConfig('xen-fifo', 2, 'split'));
    const lab = labResults(r.output);
    expect(r.errors).toEqual([]);
    expect(lab.failed, r.output).toEqual([]);
    expect(r.result, r.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
    expect(r.cycles).toBeGreaterThanOrEqual(5);
    const e = r.stats.xen!.evtchn;
    expect(e.abi).toBe('fifo');
    const ports = [...r.output.matchAll(/fifo-port name=(\S+) port=(\d+) vcpu=(\d+) prio=(\d+) sent=(\d+) hits=(\d+)/g)];
    expect(ports.length, r.output).toBe(8);
    for (const [, name, port, , , sent, hits] of ports) {
      const p = e.ports.find((x) => x.port === Number(port))!;
      expect(p.deliveries, name).toBe(Number(hits)); // each delivery handled exactly once
      if (name!.startsWith('blast')) {
        expect(p.sends, name).toBe(Number(sent));
        expect(p.deliveries + p.coalesced, name).toBe(p.sends);
      }
    }
    console.log(`xen-fifo: ${r.cycles} save/restore cycles`);
  });

  it('xen-pirq (1 vCPU, kernel irqchip): GSI and MSI-X PIRQs keep reaching their ports', async () => {
    const irqLab = { type: 'irq-lab' as const, msix: { vectors: 8, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 }, msiVectors: 1 };
    const r = await runCycling(xenConfig('xen-pirq', 1, 'kernel', [irqLab]));
    const lab = labResults(r.output);
    expect(r.errors).toEqual([]);
    expect(lab.failed, r.output).toEqual([]);
    expect(r.result, r.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
    expect(r.cycles).toBeGreaterThanOrEqual(2);
    const q = r.stats.xen!.pirq;
    const ports = [...r.output.matchAll(/pirq-port name=(\S+) pirq=(\d+) port=\d+ hits=(\d+)/g)];
    expect(ports.map((p) => p[1])).toEqual(['gsi5', 'intx', 'msix0', 'msi0']);
    for (const [, name, pirq, hits] of ports.slice(2)) {
      expect(q.pirqs.find((p) => p.pirq === Number(pirq)), name).toMatchObject({ kind: 'msi-emu', count: Number(hits), dropped: 0 });
    }
    console.log(`xen-pirq: ${r.cycles} save/restore cycles`);
  });

  it('xen-evtchn (2 vCPUs, kernel irqchip): 2-level delivery, IPIs, VIRQ_TIMER, poll, bind_vcpu', async () => {
    const r = await runCycling(xenConfig('xen-evtchn', 2, 'kernel'));
    const lab = labResults(r.output);
    expect(r.errors).toEqual([]);
    expect(lab.failed, r.output).toEqual([]);
    expect(r.result, r.log.join('\n')).toMatchObject({ reason: 'shutdown', status: 0 });
    expect(r.cycles).toBeGreaterThanOrEqual(2);
    console.log(`xen-evtchn: ${r.cycles} save/restore cycles`);
  });
});
