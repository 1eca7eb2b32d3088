// INTx routing of the root bus: device slot + interrupt pin → one of four PCI interrupt lines
// (PIRQA..D) → an IOAPIC input. The swizzle is the usual one, line = (slot + pin) mod 4 with
// pin 0 = INTA# (PCI-to-PCI Bridge Architecture 1.2 §9.1, applied at the root like QEMU's q35
// and i440fx boards), so neighbouring slots spread over the lines. Default IOAPIC pins are
// 16-19, the first inputs above the ISA range (what QEMU's q35 PIRQ links E-H use); they are
// level-triggered and described active-high because neither KVM's IOAPIC nor ours applies
// polarity to inputs (the fabric passes the asserted state), matching QEMU's _PRT GSI links.
// Lines are shared: each line's output is the wired-OR of every function asserting it, so one
// function deasserting cannot drop another's interrupt.
import type { IrqLine } from '../irq/types.js';
import { PciConfigError } from './errors.js';

export const PCI_INTX_LINES = 4;
export const DEFAULT_INTX_IOAPIC_PINS: readonly number[] = [16, 17, 18, 19];
export const PIN_NAMES = ['INTA', 'INTB', 'INTC', 'INTD'] as const;

/** One routed (slot, pin) for MP-table I/O interrupt entries and an ACPI _PRT. */
export interface IntxRoute {
  bus: number;
  device: number;
  /** 0 = INTA# .. 3 = INTD# (the _PRT and MP-table numbering, Interrupt Pin register − 1). */
  pin: number;
  pinName: (typeof PIN_NAMES)[number];
  /** PCI interrupt line (PIRQ index 0..3). */
  line: number;
  ioapicPin: number;
  /** MP spec 1.4 §4.3.4 source bus IRQ for PCI: device number in bits 6:2, pin in bits 1:0. */
  mpSourceIrq: number;
  trigger: 'level';
  polarity: 'high';
}

export function swizzle(device: number, pin: number): number {
  return (device + pin) % PCI_INTX_LINES;
}

class SharedLine {
  private readonly asserting = new Set<object>();
  level = false;
  asserts = 0;
  constructor(private readonly out: IrqLine) {}

  set(source: object, level: boolean): void {
    if (level) this.asserting.add(source);
    else this.asserting.delete(source);
    const next = this.asserting.size > 0;
    if (next === this.level) return;
    this.level = next;
    if (next) this.asserts++;
    this.out.set(next);
  }

  get sources(): number {
    return this.asserting.size;
  }
}

export class IntxRouter {
  private readonly lines: SharedLine[];

  /**
   * @param ioapicPins the IOAPIC input of each of the four lines
   * @param lineFor the machine's wire to an IOAPIC input (GSI), in-kernel or ours
   */
  constructor(
    readonly ioapicPins: readonly number[],
    lineFor: (ioapicPin: number) => IrqLine,
  ) {
    if (ioapicPins.length !== PCI_INTX_LINES || ioapicPins.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new PciConfigError(`INTx routing needs four IOAPIC pins, got [${ioapicPins.join(', ')}]`);
    }
    this.lines = ioapicPins.map((p) => new SharedLine(lineFor(p)));
  }

  /** A line for one function's pin (1..4 as in its Interrupt Pin register). */
  lineFor(device: number, interruptPin: number): IrqLine {
    const shared = this.lines[swizzle(device, interruptPin - 1)]!;
    const source = {};
    return { set: (level) => shared.set(source, level) };
  }

  route(bus: number, device: number, pin: number): IntxRoute {
    const line = swizzle(device, pin);
    return {
      bus,
      device,
      pin,
      pinName: PIN_NAMES[pin]!,
      line,
      ioapicPin: this.ioapicPins[line]!,
      mpSourceIrq: (device << 2) | pin,
      trigger: 'level',
      polarity: 'high',
    };
  }

  /** Current state of each line, for the UI. */
  lineStates(): { line: number; ioapicPin: number; level: boolean; sources: number; asserts: number }[] {
    return this.lines.map((l, i) => ({ line: i, ioapicPin: this.ioapicPins[i]!, level: l.level, sources: l.sources, asserts: l.asserts }));
  }
}
