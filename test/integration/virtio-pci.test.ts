// virtio-pci over vhost-user on real KVM. Part 1 boots the `virtio` lab guest (a minimal
// virtio 1.x driver using MSI-X) in a Machine with virtio-blk (our device process, then
// qemu-storage-daemon), virtio-rng and virtio-console, and checks its LAB lines, the bytes it
// wrote to the image and the console output in the VM log. Part 2 plays the driver from the
// test (config space through the host bridge, BAR MMIO through machine.mmio, rings in guest
// RAM) to cover the back-end crash -> DEVICE_NEEDS_RESET -> restart -> re-init path.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEVICES, type DeviceConfig, type IrqchipMode, type MachineConfig } from '../../core/machine/config.js';
import { Machine, type MachineResult } from '../../core/machine/machine.js';
import { runMachine } from '../../core/machine/run.js';
import { CC, STATUS } from '../../core/virtio-pci/constants.js';
import { VirtioConsoleDevice } from '../../core/virtio-pci/device-types.js';
import { REGION, VIRTIO_BAR } from '../../core/virtio-pci/transport.js';
import type { VhostVirtioPciDevice } from '../../core/virtio-pci/vhost-device.js';
import { GUEST_QUIRKS, guestPath, hasKvm } from '../support/guests.js';
import { DriverQueue } from '../support/virtio-driver.js';

const GUEST = guestPath('virtio');
const QSD = '/usr/bin/qemu-storage-daemon';
const SECTOR = 5;
const haveGuest = existsSync(GUEST);
const haveQsd = spawnSync(QSD, ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasKvm) console.log('SKIP virtio-pci: /dev/kvm is absent on this machine');
else if (!haveGuest) console.log(`SKIP virtio-pci lab guest: ${GUEST} not built (make -C guests)`);
if (hasKvm && !haveQsd) console.log(`SKIP virtio-pci with qemu-storage-daemon: ${QSD} not found (apt-get install qemu-system-common)`);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'virtio-pci-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(kernel: string, devices: DeviceConfig[], cmdline = '', irqchip: IrqchipMode = 'kernel'): MachineConfig {
  return { name: 'virtio', cpus: 1, memoryMiB: 64, irqchip, boot: { kind: 'auto', kernel, cmdline }, devices: [...DEFAULT_DEVICES.map((d) => ({ ...d })), ...devices] };
}

interface LabRun {
  result: MachineResult;
  output: string;
  log: string[];
  stats: Record<string, Record<string, number | number[]>>;
  irqs: Record<string, number>;
}

async function runLab(devices: DeviceConfig[], cmdline: string, irqchip: IrqchipMode = 'kernel'): Promise<LabRun> {
  let output = '';
  let sent = false;
  let machine: Machine | undefined;
  let stats: LabRun['stats'] = {};
  let irqs: LabRun['irqs'] = {};
  const timer = setTimeout(() => void machine?.stop(), 45_000);
  try {
    const result = await runMachine(config(GUEST, devices, `${cmdline} ${GUEST_QUIRKS}`, irqchip), {
      onMachine: (m) => (machine = m),
      onConsole: (b) => {
        output += Buffer.from(b).toString('latin1');
        if (!sent && output.includes('LAB-READY virtio-console-rx')) {
          sent = true;
          const con = machine!.pciDevices.find((d) => d instanceof VirtioConsoleDevice) as VirtioConsoleDevice;
          con.sendInput(new TextEncoder().encode('host says hi\n'));
        }
      },
      onEnding: (m) => {
        stats = Object.fromEntries(m.pciDevices.map((d) => [d.name, d.deviceStats!()]));
        irqs = Object.fromEntries(m.pciDevices.map((d) => [d.name, d.interruptStats().reduce((n, s) => n + s.total, 0)]));
        irqs.irqfdVectors = m.pciDevices.flatMap((d) => d.interruptStats()).filter((s) => s.path === 'irqfd').length;
      },
    });
    return { result, output, log: machine!.log, stats, irqs };
  } finally {
    clearTimeout(timer);
  }
}

function labLines(out: string): { pass: string[]; fail: string[]; done: boolean } {
  const pass = [...out.matchAll(/^LAB-PASS (?:virtio\.)?(\S+)/gm)].map((m) => m[1]!);
  const fail = [...out.matchAll(/^LAB-FAIL .*$/gm)].map((m) => m[0]);
  return { pass, fail, done: /^LAB-DONE/m.test(out) };
}

describe.skipIf(!hasKvm || !haveGuest)('virtio-pci: the virtio lab guest', () => {
  it.each(['kernel', 'split'] as const)('drives virtio-blk (our back-end), virtio-rng and virtio-console over MSI-X (%s irqchip)', async (irqchip) => {
    const image = join(dir, `ours-${irqchip}.img`);
    writeFileSync(image, new Uint8Array(1 << 20));
    const t0 = Date.now();
    const r = await runLab(
      [{ type: 'virtio-blk', image }, { type: 'virtio-rng' }, { type: 'virtio-console' }],
      `require=blk,rng,console blk_sector=${SECTOR} blk_restore=0 console_rx_ms=5000`,
      irqchip,
    );
    const lab = labLines(r.output);
    console.log(`virtio lab guest (ours, ${irqchip} irqchip): ${Date.now() - t0} ms, PASS ${lab.pass.join(' ')}; irq totals ${JSON.stringify(r.irqs)}; blk ${JSON.stringify(r.stats['virtio-blk0'])}`);
    expect(lab.fail, r.output).toEqual([]);
    expect(lab.done, r.output).toBe(true);
    expect(lab.pass).toEqual(expect.arrayContaining(['blk.start', 'blk.read', 'blk.write', 'blk.flush', 'blk.readback', 'blk.msix-mask-pending', 'rng.start', 'console.start', 'console.write', 'console.read']));
    expect(r.result.status).toBe(0);
    const sector = readFileSync(image).subarray(SECTOR * 512, SECTOR * 512 + 64);
    expect(Buffer.from(sector).toString('latin1')).toContain(`LAB-VIRTIO-BLK sector ${SECTOR}`);
    expect(r.log.join('\n')).toContain('console: LAB-VIRTIO-CONSOLE hello from lab guest virtio');
    expect(r.output).toContain('got: host says hi');
    // Kicks went through KVM_IOEVENTFD and interrupts through irqfd.
    for (const d of ['virtio-blk0', 'virtio-rng0', 'virtio-console0']) {
      expect(r.stats[d]!.ioeventfdRegistrations).toBeGreaterThanOrEqual(1);
      expect(r.stats[d]!.slowPathNotifies).toBe(0);
      expect(r.stats[d]!['transport.notifies']).toBe(0);
    }
    expect(r.irqs.irqfdVectors).toBeGreaterThan(0);
  });

  it.skipIf(!haveQsd)('drives virtio-blk served by qemu-storage-daemon', async () => {
    const image = join(dir, 'qsd.img');
    writeFileSync(image, new Uint8Array(1 << 20));
    const sock = join(dir, 'qsd.sock');
    const qsd: ChildProcess = spawn(QSD, [
      '--blockdev', `driver=file,node-name=f,filename=${image}`,
      '--export', `type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=${sock},writable=on`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const r = await runLab([{ type: 'virtio-blk', socket: sock }], `require=blk blk_sector=${SECTOR + 1} blk_restore=0`);
      const lab = labLines(r.output);
      console.log(`virtio lab guest (qemu-storage-daemon): PASS ${lab.pass.join(' ')}; offered ${JSON.stringify(r.stats['virtio-blk0']!.offeredFeatures)}`);
      expect(lab.fail, r.output).toEqual([]);
      expect(lab.done, r.output).toBe(true);
      expect(lab.pass).toEqual(expect.arrayContaining(['blk.start', 'blk.read', 'blk.write', 'blk.readback', 'blk.msix-mask-pending']));
      const sector = readFileSync(image).subarray((SECTOR + 1) * 512, (SECTOR + 1) * 512 + 64);
      expect(Buffer.from(sector).toString('latin1')).toContain(`LAB-VIRTIO-BLK sector ${SECTOR + 1}`);
    } finally {
      qsd.kill('SIGTERM');
    }
  });
});

/** A test-side driver for one virtio-pci function in a Machine whose vCPUs never run. */
class TestDriver {
  readonly base: number;
  constructor(
    readonly m: Machine,
    readonly dev: VhostVirtioPciDevice,
  ) {
    this.base = dev.fn.bars.bar(VIRTIO_BAR)!.range!.base;
  }
  r(o: number, s: number): number {
    return this.m.mmio.find(this.base + o)!.device.read(this.base + o - this.m.mmio.find(this.base + o)!.base, s);
  }
  w(o: number, s: number, v: number): void {
    const range = this.m.mmio.find(this.base + o)!;
    range.device.write(this.base + o - range.base, s, v);
  }
  async init(q: DriverQueue): Promise<void> {
    this.w(CC.deviceStatus, 1, 0);
    await until(() => this.r(CC.deviceStatus, 1) === 0, 'reset');
    this.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    this.w(CC.driverFeatureSelect, 4, 1);
    this.w(CC.driverFeature, 4, 1); // VERSION_1
    this.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    expect(this.r(CC.deviceStatus, 1) & STATUS.FEATURES_OK).toBeTruthy();
    this.w(CC.queueSelect, 2, 0);
    this.w(CC.queueSize, 2, q.size);
    this.w(CC.queueDesc, 4, q.desc);
    this.w(CC.queueDriver, 4, q.avail);
    this.w(CC.queueDevice, 4, q.used);
    this.w(CC.queueEnable, 2, 1);
    this.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
  }
  async random(q: DriverQueue, gpa: number, len: number): Promise<number> {
    this.m.ram.memory.fill(gpa, len, 0);
    q.add([{ gpa, len, write: true }]);
    this.w(REGION.notify, 2, 0); // through the bus: the slow path
    let used: { id: number; len: number }[] = [];
    await until(() => (used = q.takeUsed()).length > 0, 'used buffer');
    return used[0]!.len;
  }
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe.skipIf(!hasKvm)('virtio-pci: back-end supervision with a test-side driver', () => {
  it('marks a crashed back-end failed with DEVICE_NEEDS_RESET; restart + driver reset bring it back', async () => {
    const failures: string[] = [];
    const m = new Machine(config(guestPath('hello'), [{ type: 'virtio-rng' }]), { onLog: (l) => l.includes('failed') && failures.push(l) });
    try {
      const dev = m.pciDevices[0] as VhostVirtioPciDevice;
      await dev.start();
      const drv = new TestDriver(m, dev);
      const q = new DriverQueue(m.ram.memory, 0x200000, 16);
      await drv.init(q);
      expect(await drv.random(q, 0x210000, 256)).toBe(256);
      expect(m.ram.memory.read(0x210000, 256).some((b) => b !== 0)).toBe(true);

      const pid = Number(/pid (\d+)/.exec((dev as unknown as { launcher: { describe(): string } }).launcher.describe())![1]);
      process.kill(pid, 'SIGKILL');
      await until(() => dev.state === 'failed', 'failed state');
      expect(drv.r(CC.deviceStatus, 1) & STATUS.DEVICE_NEEDS_RESET).toBeTruthy();
      expect(failures.join('\n')).toMatch(/virtio-rng0 failed/);
      // FEATURES_OK cannot be reached while the back-end is gone.
      drv.w(CC.deviceStatus, 1, 0);
      await until(() => drv.r(CC.deviceStatus, 1) === 0, 'reset while failed');
      drv.w(CC.deviceStatus, 1, 3);
      drv.w(CC.driverFeatureSelect, 4, 1);
      drv.w(CC.driverFeature, 4, 1);
      drv.w(CC.deviceStatus, 1, 11);
      expect(drv.r(CC.deviceStatus, 1)).toBe(3);

      await dev.restart!();
      expect(dev.state).toBe('running');
      q.reset();
      await drv.init(q);
      expect(await drv.random(q, 0x210000, 4096)).toBe(4096);
      const st = dev.deviceStats();
      expect(st.failures).toBe(1);
      expect(st.restarts).toBe(1);
      expect(st.slowPathNotifies).toBe(2);
    } finally {
      await m.stop();
    }
  });

  it('refuses a disk image that cannot be opened, naming the file', () => {
    const missing = join(dir, 'no-such.img');
    expect(() => new Machine(config(guestPath('hello'), [{ type: 'virtio-blk', image: missing }]))).toThrow(new RegExp(`cannot open the disk image ${missing}`));
  });
});
