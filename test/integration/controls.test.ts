// The machine-side controls of the desktop app on the built-in Interrupt Lab demos, on
// real KVM: the MSI-X storm (2048 vectors fired by the guest all the time) for the MSI-X
// table view, host-side mask/unmask through the table, host fires and the routing table;
// the Xen demo for the port and PIRQ tables and the Xen actions; bad arguments; and the same
// controls once through the control socket and the `vmm` sub-commands; the Xen demo's
// interrupt state saved to a file, restored into the paused VM, and events still flowing;
// the routing table of a split irqchip against its IOAPIC. Short runs: each VM
// is stopped after its checks (the demos never stop on their own).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../core/cli/main.js';
import { ControllerError, MachineController } from '../../core/control/commands.js';
import { ControlServer } from '../../core/control/server.js';
import { Machine } from '../../core/machine/machine.js';
import { interruptLabDemos } from '../../core/profiles/demo.js';
import { resolveProfile } from '../../core/profiles/store.js';
import { packageRoot } from '../../core/paths.js';
import { guestPath, GUEST_QUIRKS, hasKvm, runGuest } from '../support/guests.js';
import { msiFromRte, rteIsMasked } from '../../core/devices/ioapic-rte.js';
import type { RoutingTableView } from '../../core/api/contract.js';
import { existsSync } from 'node:fs';

const tmp = mkdtempSync(join(tmpdir(), 'vmm-controls-'));
const built = existsSync(guestPath('irqlab-msix')) && existsSync(guestPath('xen-demo'));
if (!hasKvm) console.log('SKIP controls: /dev/kvm is absent on this machine');
else if (!built) console.log('SKIP controls: guests/out/irqlab-msix.elf or xen-demo.elf is not built (make -C guests)');

/** The storm guest's IDT pool (runtime/irqcount.c: 0x20..0xfd without 0xee) and spread. */
const POOL = 221;
const poolVector = (i: number): number => 0x20 + i + (0x20 + i >= 0xee ? 1 : 0);

interface Booted {
  m: Machine;
  c: MachineController;
  server: ControlServer;
  sock: string;
  console(): string;
}

async function boot(demo: 0 | 1, cmdline: string | undefined, ready: RegExp, sock: string): Promise<Booted> {
  const p = interruptLabDemos()[demo]!;
  if (cmdline) p.boot.cmdline = cmdline;
  let out = '';
  const m = new Machine(resolveProfile(p, packageRoot()), { onConsole: (b) => (out += Buffer.from(b).toString('latin1')) });
  const server = await ControlServer.listen(m, sock);
  await m.start();
  const deadline = Date.now() + 30_000;
  while (!ready.test(out)) {
    if (Date.now() > deadline || m.state !== 'running') {
      await m.stop();
      server.close();
      throw new Error(`${p.name} did not get ready (${m.state}); console:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { m, c: server.controller, server, sock, console: () => out };
}

async function shutdown(b: Booted | undefined): Promise<void> {
  if (!b) return;
  await b.m.stop();
  b.server.close();
}

/** Run `vmm ARGS` in-process; returns the exit status and what it printed. */
async function vmm(...args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { status: await main(args), out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

describe.skipIf(!hasKvm || !built)('controls on the MSI-X storm demo', () => {
  let b: Booted | undefined;
  beforeAll(async () => {
    b = await boot(0, 'console=ttyS0 storm_rate=20000 storm_status_ms=500', /STORM start/, join(tmp, 'storm.sock'));
  });
  afterAll(() => shutdown(b));

  it('decodes all 2048 entries as the guest programmed them', async () => {
    const { c } = b!;
    expect(c.pciDevices()).toEqual([{ name: 'irq-lab0', bdf: expect.stringMatching(/^00:\d\d\.0$/), type: 'irq-lab', msixVectors: 2048 }]);
    const t = await c.msixTable('irq-lab0', 0, 2048);
    expect(t).toMatchObject({ device: 'irq-lab0', enabled: true, functionMasked: false, vectors: 2048, first: 0, tableBar: 1, pbaBar: 2, canFire: true });
    expect(t.entries).toHaveLength(2048);
    const wrong = t.entries.filter((e, v) => e.index !== v || e.masked || e.vector !== poolVector(v % POOL) || e.dest !== Math.floor(v / POOL) % 2 || e.deliveryMode !== 'Fixed' || e.trigger !== 'edge');
    expect(wrong.slice(0, 3)).toEqual([]);
    expect(t.entries.every((e) => e.pirq === undefined)).toBe(true);
    await expect.poll(async () => (await c.msixTable('irq-lab0', 0, 2048)).entries.filter((e) => e.total > 0).length, { timeout: 10_000 }).toBeGreaterThan(2000);
  });

  it('a host mask makes the vector pending while the guest fires; unmask delivers it', async () => {
    const { c } = b!;
    const v = 300;
    const entry = async () => (await c.msixTable('irq-lab0', v, 1)).entries[0]!;
    const before = await entry();
    c.setVectorMask('irq-lab0', v, true);
    expect(await entry()).toMatchObject({ masked: true, path: 'userspace', hostWrites: before.hostWrites! + 1 });
    await expect.poll(async () => (await entry()).pending, { timeout: 10_000 }).toBe(true);
    const masked = await entry();
    expect(masked.firedWhileMasked).toBeGreaterThan(before.firedWhileMasked);
    c.setVectorMask('irq-lab0', v, false);
    const after = await entry();
    expect(after).toMatchObject({ masked: false, pending: false, hostWrites: before.hostWrites! + 2 });
    expect(after.deliveredAfterUnmask).toBe(masked.deliveredAfterUnmask + 1);
    expect(c.stats().pci![0]!.device['msixHostWrites']).toBeGreaterThanOrEqual(2);
  });

  it('fires vectors from the host and counts them', async () => {
    const { c } = b!;
    const total = async () => (await c.msixTable('irq-lab0', 7, 1)).entries[0]!.total;
    const t0 = await total();
    c.fireVector('irq-lab0', 7, 500);
    await expect.poll(total, { timeout: 10_000 }).toBeGreaterThanOrEqual(t0 + 500);
  });

  it('lists the GSI routes with their owners', () => {
    const r = b!.c.routingTable();
    const msi = r.entries.filter((e) => e.kind === 'msi');
    expect(msi.length).toBe(2048);
    expect(msi.every((e) => /^pci 00:\d\d\.0 irq-lab0 v\d+$/.test(e.owner ?? '') && e.gsi >= 24 && e.vector !== undefined)).toBe(true);
    expect(r.entries.filter((e) => e.kind === 'irqchip').map((e) => e.target)).toContain('ioapic pin 2');
    expect(r.stats).toMatchObject({ msiRoutes: 2048, maxRoutes: 4096 });
  });

  it('answers bad arguments with ControllerErrors that name the problem', async () => {
    const { c } = b!;
    await expect(c.msixTable('virtio-blk9')).rejects.toThrow(/no PCI device "virtio-blk9"; this VM has irq-lab0/);
    await expect(c.msixTable('irq-lab0', 2048)).rejects.toBeInstanceOf(ControllerError);
    await expect(c.msixTable('irq-lab0', 0, 0)).rejects.toThrow(/count 0 is not 1..2048/);
    expect(() => c.setVectorMask('irq-lab0', 2048, true)).toThrow(/irq-lab0: vector 2048 is out of range/);
    expect(() => c.setVectorMask('irq-lab0', 1, 'yes' as never)).toThrow(ControllerError);
    expect(() => c.fireVector('irq-lab0', 1, 0)).toThrow(/burst count 0/);
    expect(() => c.fireVector('irq-lab0', -1)).toThrow(ControllerError);
    expect(() => c.xenPorts()).toThrow(/is not a Xen VM/);
    expect(() => c.xenSend(1)).toThrow(ControllerError);
    // A kvm VM has no interrupt state to save (only xen-hvm has one); it is not even paused.
    await expect(c.saveInterruptState()).rejects.toThrow(/is platform kvm, and only xen-hvm VMs have interrupt state to save/);
    await expect(c.restoreInterruptState({})).rejects.toBeInstanceOf(ControllerError);
    expect(b!.m.state).toBe('running');
  });

  it('works through the control socket and the vmm sub-commands', async () => {
    const { sock, c } = b!;
    const msix = await vmm('msix', sock, 'irq-lab0', '--first', '300', '--count', '2');
    expect(msix.status).toBe(0);
    expect(msix.out).toMatch(/irq-lab0 00:\d\d\.0: MSI-X 2048 vectors, enabled/);
    expect(msix.out).toMatch(/^300\s+0x00000000_fee01000\s+0x0000006f\s+1\s+0x6f\s+Fixed\/phys\s+edge\s+--\s+\d+\s+irqfd/m);
    expect((await vmm('mask', sock, 'irq-lab0', '301')).out).toBe('irq-lab0 vector 301 masked\n');
    expect((await c.msixTable('irq-lab0', 301, 1)).entries[0]!.masked).toBe(true);
    expect((await vmm('unmask', sock, 'irq-lab0', '301')).out).toBe('irq-lab0 vector 301 unmasked\n');
    expect((await vmm('fire', sock, 'irq-lab0', '5', '3')).out).toBe('irq-lab0 vector 5 fired 3 times\n');
    const json = JSON.parse((await vmm('msix', '--json', '--count', '1', sock, 'irq-lab0')).out) as { entries: unknown[] };
    expect(json.entries).toHaveLength(1);
    expect((await vmm('routes', sock)).out).toMatch(/GSI routing: \d+\/4096 entries[\s\S]*pci 00:\d\d\.0 irq-lab0 v2047/);
    const ports = await vmm('ports', sock);
    expect(ports.status).toBe(1);
    expect(ports.err).toMatch(/^vmm: .* is not a Xen VM/);
    const bad = await vmm('mask', sock, 'irq-lab0', '2048');
    expect(bad.status).toBe(1);
    const save = await vmm('save-irq-state', sock, join(tmp, 'storm-irq.json'));
    expect(save).toMatchObject({ status: 1, err: expect.stringMatching(/^vmm: cannot save interrupt state: .* is platform kvm/) });
    expect(existsSync(join(tmp, 'storm-irq.json'))).toBe(false);
  });

  it('kept the guest running the whole time', async () => {
    expect(b!.m.state).toBe('running');
    await expect.poll(() => b!.console(), { timeout: 10_000 }).toMatch(/STORM t=\d+s fired=\d+ device-fired=\d+ handled=\d+/);
    expect(b!.console()).not.toMatch(/LAB-FAIL|LAB-DONE/);
  });
});

describe.skipIf(!hasKvm || !built)('controls on the Xen event-channel demo', () => {
  let b: Booted | undefined;
  beforeAll(async () => {
    b = await boot(1, undefined, /XEN-DEMO ready/, join(tmp, 'xen.sock'));
  });
  afterAll(() => shutdown(b));
  const port = (type: string, pred: (p: { vcpu: number; detail: string }) => boolean = () => true) =>
    b!.c.xenPorts().ports.find((p) => p.type === type && pred(p))!;

  it('lists VIRQ, IPI, interdomain and PIRQ ports and the PIRQs', async () => {
    const { c } = b!;
    expect(b!.console()).not.toMatch(/LAB-FAIL/);
    const v = c.xenPorts();
    expect(v).toMatchObject({ abi: '2l', vcpus: 2 });
    const types = v.ports.map((p) => p.type);
    expect(types.filter((t) => t === 'virq')).toHaveLength(2);
    expect(types.filter((t) => t === 'ipi')).toHaveLength(2);
    expect(types.filter((t) => t === 'interdomain')).toHaveLength(2);
    expect(types.filter((t) => t === 'pirq')).toHaveLength(4);
    expect(v.ports.filter((p) => p.type === 'virq').map((p) => [p.detail, p.vcpu])).toEqual([['VIRQ_TIMER', 0], ['VIRQ_TIMER', 1]]);
    await expect.poll(() => port('virq').deliveries, { timeout: 10_000 }).toBeGreaterThan(2);
    const pirqs = c.xenPirqs();
    expect(pirqs.map((p) => p.source).sort()).toEqual(expect.arrayContaining(['gsi 5', 'irq-lab0 msix 0', 'irq-lab0 msix 1']));
    expect(pirqs).toHaveLength(4);
    expect(pirqs.every((p) => p.port !== null)).toBe(true);
    const count = (source: string) => c.xenPirqs().find((p) => p.source === source)!.count;
    await expect.poll(() => Math.min(count('gsi 5'), count('irq-lab0 msix 0'), count('irq-lab0 msix 1')), { timeout: 10_000 }).toBeGreaterThan(0);
    const msix = await c.msixTable('irq-lab0', 0, 2);
    expect(msix.entries.map((e) => [e.pirq === undefined, e.masked])).toEqual([[false, false], [false, false]]);
    expect(new Set(msix.entries.map((e) => e.pirq))).toEqual(new Set(pirqs.filter((p) => p.source.startsWith('irq-lab0')).map((p) => p.pirq)));
  });

  it('xenSend delivers an event the guest handles', async () => {
    const { c } = b!;
    const ipi = port('ipi', (p) => p.vcpu === 0);
    const r = c.xenSend(ipi.port);
    expect(r).toMatchObject({ port: ipi.port, raised: ipi.port });
    await expect.poll(() => port('ipi', (p) => p.vcpu === 0).deliveries, { timeout: 5_000 }).toBeGreaterThan(ipi.deliveries);
    const timer = port('virq', (p) => p.vcpu === 1);
    expect(c.xenSend(timer.port).raised).toBe(timer.port);
  });

  it('xenBindVcpu moves a port and events follow it', async () => {
    const { c } = b!;
    const loop = port('interdomain');
    c.xenBindVcpu(loop.port, 1);
    const moved = c.xenPorts().ports.find((p) => p.port === loop.port)!;
    expect(moved.vcpu).toBe(1);
    await expect.poll(() => c.xenPorts().ports.find((p) => p.port === loop.port)!.deliveries, { timeout: 5_000 }).toBeGreaterThan(moved.deliveries);
    c.xenBindVcpu(loop.port, 0);
  });

  it('mask holds events pending; unmask re-delivers them', async () => {
    const { c } = b!;
    const ipi = port('ipi', (p) => p.vcpu === 1);
    c.xenSetPortMask(ipi.port, true);
    await expect.poll(() => c.xenPorts().ports.find((p) => p.port === ipi.port), { timeout: 5_000 }).toMatchObject({ masked: true, pending: true });
    const held = c.xenPorts().ports.find((p) => p.port === ipi.port)!;
    c.xenSetPortMask(ipi.port, false);
    const after = c.xenPorts().ports.find((p) => p.port === ipi.port)!;
    expect(after.masked).toBe(false);
    expect(after.deliveries).toBeGreaterThan(held.deliveries);
    await expect.poll(() => c.xenPorts().ports.find((p) => p.port === ipi.port)!.pending, { timeout: 5_000 }).toBe(false);
  });

  it('refuses what Xen refuses, with the errno', () => {
    const { c } = b!;
    const ipi = port('ipi');
    expect(() => c.xenBindVcpu(ipi.port, 1 - ipi.vcpu)).toThrow(/IPI ports stay on their vCPU \(EINVAL\)/);
    expect(() => c.xenBindVcpu(port('interdomain').port, 2)).toThrow(/vCPU 2 is out of range .*\(ENOENT\)/);
    expect(() => c.xenSend(4000)).toThrow(/port 4000 is not bound \(EINVAL\)/);
    expect(() => c.xenSetPortMask(0, true)).toThrow(ControllerError);
    expect(() => c.fireVector('irq-lab0', 9)).toThrow(/vector 9 is out of range/);
  });

  it('works through the vmm sub-commands', async () => {
    const { sock } = b!;
    expect((await vmm('ports', sock)).out).toMatch(/event channels: 2l ABI, 2 vCPUs, 10 bound ports[\s\S]*virq\s+VIRQ_TIMER/);
    expect((await vmm('pirqs', sock)).out).toMatch(/gsi 5/);
    const ipi = port('ipi', (p) => p.vcpu === 0);
    expect((await vmm('send', sock, String(ipi.port))).out).toMatch(new RegExp(`^port ${ipi.port}: event `));
    expect((await vmm('mask-port', sock, String(ipi.port))).out).toBe(`port ${ipi.port} masked\n`);
    expect((await vmm('unmask-port', sock, String(ipi.port))).out).toBe(`port ${ipi.port} unmasked\n`);
    const bad = await vmm('bind-vcpu', sock, String(ipi.port), '1');
    expect(bad).toMatchObject({ status: 1, err: expect.stringMatching(/EINVAL/) });
  });

  it('saves the interrupt state to a file, restores it into the paused VM, and events still flow', async () => {
    const { sock, c, m } = b!;
    const file = join(tmp, 'xen-irq.json');
    const saved = await vmm('save-irq-state', sock, file);
    expect(saved).toMatchObject({ status: 0, out: expect.stringMatching(/^interrupt state saved to .*xen-irq.json \(\d+ bytes: 10 bound ports, 4 PIRQs\)\n$/) });
    expect(m.state).toBe('running'); // paused for the save, then resumed
    const snap = JSON.parse(readFileSync(file, 'utf8')) as { xen: { cpus: number; evtchn: { ports: unknown[] }; pirq: { pirqs: unknown[] } } };
    expect(snap).toMatchObject({ format: 'irqbench/interrupt-state', version: 1, platform: 'xen-hvm', xen: { cpus: 2, evtchn: { abi: '2l' } } });

    const running = await vmm('restore-irq-state', sock, file);
    expect(running).toMatchObject({ status: 1, err: expect.stringMatching(/the VM is running; restore needs a paused VM: run `vmm pause .*` first/) });
    await expect(c.restoreInterruptState(snap)).rejects.toThrow(/pause it first/);
    expect((await vmm('pause', sock)).out).toBe('the VM is paused\n');

    // A snapshot that does not fit this VM is refused and changes nothing.
    const misfit = join(tmp, 'xen-irq-3cpu.json');
    writeFileSync(misfit, JSON.stringify({ ...snap, xen: { ...snap.xen, cpus: 3 } }));
    expect(await vmm('restore-irq-state', sock, misfit)).toMatchObject({ status: 1, err: expect.stringMatching(/saved with 3 vCPUs, this machine has 2/) });
    const junk = join(tmp, 'junk.json');
    writeFileSync(junk, '{"format": "something else"}');
    expect(await vmm('restore-irq-state', sock, junk)).toMatchObject({ status: 1, err: expect.stringMatching(/not an irqbench interrupt-state snapshot/) });

    const restored = await vmm('restore-irq-state', sock, file);
    expect(restored).toMatchObject({ status: 0, out: expect.stringMatching(/^interrupt state restored from .*; the VM is still paused/) });
    expect(m.state).toBe('paused');
    const again = await c.saveInterruptState(); // a paused VM stays paused
    expect(m.state).toBe('paused');
    expect(again.xen.evtchn.ports).toEqual(snap.xen.evtchn.ports);
    expect(again.xen.pirq.pirqs).toEqual(snap.xen.pirq.pirqs);
    expect((await vmm('resume', sock)).out).toBe('the VM is running\n');

    const ipi = port('ipi', (p) => p.vcpu === 0);
    expect((await vmm('send', sock, String(ipi.port))).status).toBe(0);
    await expect.poll(() => port('ipi', (p) => p.vcpu === 0).deliveries, { timeout: 5_000 }).toBeGreaterThan(ipi.deliveries);
    const timer = port('virq', (p) => p.vcpu === 1).deliveries;
    const gsi5 = c.xenPirqs().find((p) => p.source === 'gsi 5')!.count;
    await expect.poll(() => port('virq', (p) => p.vcpu === 1).deliveries, { timeout: 5_000 }).toBeGreaterThan(timer);
    await expect.poll(() => c.xenPirqs().find((p) => p.source === 'gsi 5')!.count, { timeout: 10_000 }).toBeGreaterThan(gsi5);
    expect(b!.console()).not.toMatch(/LAB-FAIL/);
  });
});

describe.skipIf(!hasKvm || !existsSync(guestPath('serial')))('routing table on a split irqchip', () => {
  it('shows one MSI route per unmasked pin of the userspace IOAPIC, as the router committed it', async () => {
    let view: RoutingTableView | undefined;
    let expected: { gsi: number; data: number; addressLo: number }[] = [];
    const run = await runGuest('serial', {
      irqchip: 'split', cmdline: GUEST_QUIRKS, answers: [[/LAB-READY serial-rx/, 'ping\n']],
      onEnding: (m) => {
        view = new MachineController(m).routingTable();
        expected = m.irqchip.ioapic!.state().redirtbl.flatMap(([lo, hi], gsi) => {
          if (rteIsMasked(lo)) return [];
          const msg = msiFromRte({ lo, hi });
          return [{ gsi, data: msg.data, addressLo: msg.addressLo }];
        });
      },
    });
    expect(run.result).toMatchObject({ reason: 'debug-exit', status: 0 });
    expect(expected.length).toBeGreaterThan(0); // the guest left IRQ 4 unmasked
    const fixed = view!.entries.filter((e) => e.gsi < 24);
    expect(fixed.map((e) => ({ gsi: e.gsi, data: e.data, addressLo: e.addressLo }))).toEqual(expected);
    expect(fixed.every((e) => e.kind === 'msi' && e.target === `ioapic pin ${e.gsi} (userspace IOAPIC)`)).toBe(true);
    expect(view!.stats['fixedEntries']).toBe(expected.length);
  });
});
