// IRQ-line test device, like the IRQ ports of QEMU's pc-testdev (base 0x2000): a 16-port
// range where outb(base + n, level) drives ISA IRQ line n to level (nonzero = high) through
// the IrqLines the machine supplies. Lab guests use it to raise interrupts of a chosen
// trigger/level shape without a real device. Reads return the level last driven (0/1).
// Wider accesses are split into byte cycles (one per consecutive line), like any 8-bit
// ISA device; lines the machine did not wire are accepted and only remembered.
import type { IoDevice } from '../bus/types.js';
import type { IrqLine } from '../irq/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';

export const IRQ_TESTDEV_LINES = 16;

export interface IrqLineTestdevOptions {
  name?: string;
  /** Index n drives ISA IRQ n; missing entries are unwired. */
  lines: readonly (IrqLine | undefined)[];
}

export interface IrqLineTestdevStats {
  writes: number;
  raises: number; // low -> high transitions driven
  lowers: number; // high -> low transitions driven
  unwiredWrites: number;
  badAccesses: number;
}

export class IrqLineTestdev implements IoDevice {
  readonly name: string;
  readonly stats: IrqLineTestdevStats = { writes: 0, raises: 0, lowers: 0, unwiredWrites: 0, badAccesses: 0 };
  private readonly lines: readonly (IrqLine | undefined)[];
  private readonly levels = new Array<boolean>(IRQ_TESTDEV_LINES).fill(false);

  constructor(options: IrqLineTestdevOptions) {
    this.name = options.name ?? 'irq-line-testdev';
    this.lines = options.lines;
  }

  /** Level last driven on line n (false for out-of-range n). */
  level(n: number): boolean {
    return this.levels[n] ?? false;
  }

  read(offset: number, size: number): number {
    const v = splitRead(offset, size, IRQ_TESTDEV_LINES, (n) => (this.levels[n] ? 1 : 0));
    if (v === null) {
      this.stats.badAccesses++;
      return floatingValue(size);
    }
    return v;
  }

  write(offset: number, size: number, value: number): void {
    const ok = splitWrite(offset, size, value, IRQ_TESTDEV_LINES, (n, byte) => this.drive(n, byte !== 0));
    if (!ok) this.stats.badAccesses++;
  }

  private drive(n: number, level: boolean): void {
    this.stats.writes++;
    const previous = this.levels[n];
    this.levels[n] = level;
    if (level && !previous) this.stats.raises++;
    if (!level && previous) this.stats.lowers++;
    const line = this.lines[n];
    if (!line) {
      this.stats.unwiredWrites++;
      return;
    }
    // Pass every write through, even a repeated level: the guest is probing the irqchip's
    // own edge/level logic, which must see exactly what it was told.
    line.set(level);
  }
}
