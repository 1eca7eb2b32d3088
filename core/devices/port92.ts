// System control port A at 0x92 (PS/2 "fast A20 and reset" port, as in QEMU's port92):
// bit 0 = alternate hot reset (a 0 -> 1 write requests a reset through onReset), bit 1 =
// A20 gate (reported through onA20; KVM cannot mask A20, so it is informational). The
// other bits (security lock, activity lights) are not modelled and read 0.
import type { IoDevice } from '../bus/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';

export const PORT92_PORT_COUNT = 1;
// Bits per the IBM PS/2 Technical Reference, "System Control Port A".
const P92_FAST_RESET = 0x01;
const P92_A20_ENABLE = 0x02;
const P92_IMPLEMENTED = P92_FAST_RESET | P92_A20_ENABLE;

export interface Port92Options {
  name?: string;
  onReset?: () => void;
  onA20?: (enabled: boolean) => void;
}

export interface Port92Stats {
  resets: number;
  a20Changes: number;
  badAccesses: number;
}

export class Port92 implements IoDevice {
  readonly name: string;
  readonly stats: Port92Stats = { resets: 0, a20Changes: 0, badAccesses: 0 };
  private readonly onReset: () => void;
  private readonly onA20: (enabled: boolean) => void;
  // A20 starts enabled: without firmware the guest runs with A20 on (and KVM never masks it).
  private value = P92_A20_ENABLE;

  constructor(options: Port92Options = {}) {
    this.name = options.name ?? 'port92';
    this.onReset = options.onReset ?? (() => {});
    this.onA20 = options.onA20 ?? (() => {});
  }

  /** Machine reset: the reset bit clears, A20 returns to enabled. */
  reset(): void {
    this.value = P92_A20_ENABLE;
  }

  get a20Enabled(): boolean {
    return (this.value & P92_A20_ENABLE) !== 0;
  }

  read(offset: number, size: number): number {
    const v = splitRead(offset, size, PORT92_PORT_COUNT, () => this.value);
    if (v === null) {
      this.stats.badAccesses++;
      return floatingValue(size);
    }
    return v;
  }

  write(offset: number, size: number, value: number): void {
    if (!splitWrite(offset, size, value, PORT92_PORT_COUNT, (_off, byte) => this.writeByte(byte))) {
      this.stats.badAccesses++;
    }
  }

  private writeByte(byte: number): void {
    const old = this.value;
    this.value = byte & P92_IMPLEMENTED;
    if ((old ^ this.value) & P92_A20_ENABLE) {
      this.stats.a20Changes++;
      this.onA20(this.a20Enabled);
    }
    // Reset on the rising edge of bit 0 only (QEMU port92_write does the same).
    if (this.value & P92_FAST_RESET && !(old & P92_FAST_RESET)) {
      this.stats.resets++;
      this.onReset();
    }
  }
}
