// The two irqchip modes, behind one small interface the machine and devices use.
//
// kernel: KVM_CREATE_IRQCHIP: PIC, IOAPIC and LAPICs in KVM. ISA IRQ n is KVM GSI n; the
//   routing table follows the PC wiring QEMU installs (IRQ0 -> IOAPIC pin 2, per the MADT
//   interrupt source override; IRQ2 is the PIC cascade and has no IOAPIC route).
// split: KVM_CAP_SPLIT_IRQCHIP: only the LAPICs are in KVM. Our IOAPIC (core/devices/ioapic)
//   takes ISA lines, and delivers each pin through a KVM MSI route on GSI = pin; KVM reports
//   EOIs of level-triggered vectors as KVM_EXIT_IOAPIC_EOI, which end up in ioapic.eoi().
import type { IoBus } from '../bus/io-bus.js';
import * as K from '../kvm/constants.js';
import type { GsiRoute, Vm } from '../kvm/vm.js';
import type { IrqLine, MsiMessage } from '../irq/types.js';
import { Ioapic } from '../devices/ioapic.js';
import { IOAPIC_BASE } from '../memory/layout.js';
import type { IrqchipMode } from './config.js';

export const IOAPIC_PINS = 24;
const ISA_IRQS = 16;

/** The owner of KVM's routing table (core/irq/gsi-router GsiRouter) once one is attached. */
export interface FixedRouteSink {
  setFixedRoutes(routes: GsiRoute[]): void;
}

export interface Irqchip {
  readonly mode: IrqchipMode;
  /** Hand the irqchip's routes (GSIs 0..23) to `router`, which from now on owns the table. */
  attachRouter(router: FixedRouteSink): void;
  /** The wire for ISA IRQ `irq` (0..15). */
  isaLine(irq: number): IrqLine;
  /** KVM_EXIT_IOAPIC_EOI (split mode only). */
  eoi(vector: number): void;
  /** Userspace IOAPIC, when there is one (split mode), for views and statistics. */
  readonly ioapic?: Ioapic;
}

/** ISA IRQ -> IOAPIC pin, per the MADT override IRQ0 -> GSI2. */
export const isaToIoapicPin = (irq: number): number => (irq === 0 ? 2 : irq);

export function pcKernelRoutes(): GsiRoute[] {
  const routes: GsiRoute[] = [];
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    if (irq === 2) continue;
    routes.push({ gsi: irq, type: 'irqchip', irqchip: irq < 8 ? K.KVM_IRQCHIP_PIC_MASTER : K.KVM_IRQCHIP_PIC_SLAVE, pin: irq % 8 });
  }
  for (let gsi = 0; gsi < IOAPIC_PINS; gsi++) {
    if (gsi === 2) continue;
    routes.push({ gsi, type: 'irqchip', irqchip: K.KVM_IRQCHIP_IOAPIC, pin: isaToIoapicPin(gsi) });
  }
  return routes;
}

class KvmLine implements IrqLine {
  private level = false;
  constructor(
    private readonly vm: Vm,
    private readonly gsi: number,
  ) {}
  set(level: boolean): void {
    if (level === this.level) return;
    this.level = level;
    this.vm.irqLine(this.gsi, level);
  }
}

export class KernelIrqchip implements Irqchip {
  readonly mode = 'kernel' as const;
  private readonly lines: KvmLine[];

  constructor(vm: Vm) {
    vm.createIrqchip();
    vm.setGsiRouting(pcKernelRoutes());
    vm.createPit2();
    this.lines = Array.from({ length: ISA_IRQS }, (_, i) => new KvmLine(vm, i));
  }

  isaLine(irq: number): IrqLine {
    const l = this.lines[irq];
    if (!l) throw new RangeError(`no ISA IRQ ${irq}`);
    return l;
  }

  attachRouter(router: FixedRouteSink): void {
    router.setFixedRoutes(pcKernelRoutes());
  }

  eoi(): void {
    // In-kernel IOAPIC handles its own EOIs.
  }
}

export class SplitIrqchip implements Irqchip {
  readonly mode = 'split' as const;
  readonly ioapic: Ioapic;
  private readonly routes: (MsiMessage | null)[] = new Array(IOAPIC_PINS).fill(null);
  private router: FixedRouteSink | null = null;
  private readonly eoiListeners = new Set<(vector: number) => void>();

  constructor(
    private readonly vm: Vm,
    mmio: IoBus,
  ) {
    vm.enableSplitIrqchip(IOAPIC_PINS);
    this.ioapic = new Ioapic({
      updateRoute: (pin, msg) => this.updateRoute(pin, msg),
      assert: (pin) => vm.irqLine(pin, true),
    });
    mmio.register(IOAPIC_BASE, 0x1000, this.ioapic);
  }

  /** KVM replaces the whole table, so every change re-sends all live pin routes. */
  private updateRoute(pin: number, msg: MsiMessage | null): void {
    this.routes[pin] = msg;
    const table: GsiRoute[] = [];
    this.routes.forEach((m, gsi) => m && table.push({ gsi, type: 'msi', msg: m }));
    if (this.router) this.router.setFixedRoutes(table);
    else this.vm.setGsiRouting(table);
  }

  attachRouter(router: FixedRouteSink): void {
    this.router = router;
    const table: GsiRoute[] = [];
    this.routes.forEach((m, gsi) => m && table.push({ gsi, type: 'msi', msg: m }));
    router.setFixedRoutes(table);
  }

  /** cb(vector) runs on each KVM_EXIT_IOAPIC_EOI before the IOAPIC handles it (INTx resample). */
  addEoiListener(cb: (vector: number) => void): () => void {
    this.eoiListeners.add(cb);
    return () => this.eoiListeners.delete(cb);
  }

  isaLine(irq: number): IrqLine {
    if (irq < 0 || irq >= ISA_IRQS) throw new RangeError(`no ISA IRQ ${irq}`);
    const pin = isaToIoapicPin(irq);
    return { set: (level) => this.ioapic.setIrq(pin, level) };
  }

  eoi(vector: number): void {
    for (const l of this.eoiListeners) l(vector);
    this.ioapic.eoi(vector);
  }
}
