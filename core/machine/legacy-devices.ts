// The PC's legacy (ISA) devices, built from the profile's device list plus the pieces every
// PC has: CMOS/RTC, the i8042 (reset line), port 0x92, and in split-irqchip mode the PIT and
// port 0x61 (with the in-kernel irqchip, KVM's own PIT answers those ports). Device models
// run on the VM host thread and get a monotonic clock and a timer scheduler from here.
import type { IoDevice } from '../bus/types.js';
import { Uart16550 } from '../devices/uart16550.js';
import { DebugExit } from '../devices/debug-exit.js';
import { IrqLineTestdev } from '../devices/irq-line-testdev.js';
import { CmosRtc } from '../devices/cmos-rtc.js';
import { I8042 } from '../devices/i8042.js';
import { Port92 } from '../devices/port92.js';
import { Pit8254 } from '../devices/pit8254.js';
import { Port61 } from '../devices/port61.js';
import type { Clock, Scheduler, TimerHandle } from '../devices/time.js';
import { PCI_HOLE_START } from '../memory/layout.js';
import { MachineConfigError } from './errors.js';
import type { Irqchip } from './irqchip.js';
import type { IoBus } from '../bus/io-bus.js';
import type { MachineConfig } from './config.js';

export interface LegacyHooks {
  onConsole(bytes: Uint8Array): void;
  onDebugExit(status: number): void;
  onReset(): void;
}

/** A device's counters, for the statistics views (the object is live; read, never write). */
export interface DeviceStats {
  name: string;
  stats: object;
}

export interface LegacyDevices {
  uart?: Uart16550;
  all: IoDevice[];
  stats: DeviceStats[];
  dispose(): void;
}

const ISA_IRQS = 16;

/** Host monotonic time and setTimeout-based timers that can all be cancelled at VM end. */
function hostTime(): { clock: Clock; scheduler: Scheduler; cancelAll(): void } {
  const live = new Set<NodeJS.Timeout>();
  const clock: Clock = () => process.hrtime.bigint();
  const scheduler: Scheduler = {
    schedule(deadlineNs, callback): TimerHandle {
      const ms = Math.max(0, Number(deadlineNs - clock()) / 1e6);
      const t = setTimeout(() => {
        live.delete(t);
        callback();
      }, ms);
      live.add(t);
      return { cancel: () => (clearTimeout(t), live.delete(t)) };
    },
  };
  return { clock, scheduler, cancelAll: () => (live.forEach(clearTimeout), live.clear()) };
}

export function createLegacyDevices(
  m: { config: MachineConfig; pio: IoBus; irqchip: Irqchip },
  hooks: LegacyHooks,
): LegacyDevices {
  const { config, pio, irqchip } = m;
  const time = hostTime();
  const all: IoDevice[] = [];
  const stats: DeviceStats[] = [];
  const add = (base: number, length: number, dev: IoDevice, counters?: DeviceStats['stats']): void => {
    pio.register(base, length, dev);
    all.push(dev);
    const s = counters ?? (dev as Partial<DeviceStats>).stats;
    if (s) stats.push({ name: `${dev.name}@0x${base.toString(16)}`, stats: s });
  };
  let uart: Uart16550 | undefined;

  for (const d of config.devices) {
    switch (d.type) {
      case 'uart16550': {
        if (uart) throw new MachineConfigError('only one uart16550 is supported (it is the console)');
        // Batch the guest's bytes per host tick: one console write per burst, not per byte.
        let pending: number[] = [];
        const flush = (): void => {
          const bytes = Uint8Array.from(pending);
          pending = [];
          hooks.onConsole(bytes);
        };
        uart = new Uart16550({
          name: 'uart',
          irq: irqchip.isaLine(d.irq),
          onTransmit: (b) => {
            if (pending.push(b) === 1) setImmediate(flush);
          },
          clock: time.clock,
          scheduler: time.scheduler,
        });
        add(d.port, 8, uart);
        break;
      }
      case 'debug-exit':
        add(d.port, 4, new DebugExit({ onExit: hooks.onDebugExit }));
        break;
      case 'irq-line-testdev':
        add(d.port, ISA_IRQS, new IrqLineTestdev({ lines: Array.from({ length: ISA_IRQS }, (_, i) => irqchip.isaLine(i)) }));
        break;
    }
  }

  const ramBelow = Math.min(config.memoryMiB * 2 ** 20, PCI_HOLE_START);
  add(0x70, 2, new CmosRtc({
    clock: time.clock,
    scheduler: time.scheduler,
    irq: irqchip.isaLine(8),
    startTimeMs: Date.now(),
    ramBelow4GiB: ramBelow,
    ramAbove4GiB: config.memoryMiB * 2 ** 20 - ramBelow,
    cpus: config.cpus,
  }));
  const kbc = new I8042({ kbdIrq: irqchip.isaLine(1), auxIrq: irqchip.isaLine(12), onReset: hooks.onReset });
  add(0x60, 1, kbc.dataPort, kbc.stats);
  add(0x64, 1, kbc.commandPort);
  add(0x92, 1, new Port92({ onReset: hooks.onReset }));
  if (irqchip.mode === 'split') {
    const pit = new Pit8254({ clock: time.clock, scheduler: time.scheduler, irq0: irqchip.isaLine(0) });
    add(0x40, 4, pit);
    add(0x61, 1, new Port61({ pit, clock: time.clock }));
  }
  return { uart, all, stats, dispose: () => time.cancelAll() };
}
