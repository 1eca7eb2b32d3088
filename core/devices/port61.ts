// Port 0x61, PC "system control port B" as far as the PIT is concerned: bit 0 drives the
// gate of PIT channel 2, bit 1 enables the speaker data, bit 4 is the DRAM refresh toggle
// and bit 5 reads channel 2's output. Linux's TSC calibration (pit_calibrate_tsc,
// quick_pit_calibrate) gates channel 2 here and polls bit 5. Bits 2/3 (parity and IOCHK
// enables) and 6/7 (error status) are not modelled and read 0, as with KVM's speaker port.
import type { IoDevice } from '../bus/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';
import type { Pit8254 } from './pit8254.js';
import type { Clock } from './time.js';

export const PORT61_PORT_COUNT = 1;
const P61_GATE2 = 0x01;
const P61_SPEAKER_DATA = 0x02;
const P61_REFRESH = 0x10;
const P61_OUT2 = 0x20;
/** The refresh bit toggles every 2^14 ns (~16 us), as in KVM's speaker_ioport_read. */
const REFRESH_SHIFT = 14n;
const SPEAKER_CHANNEL = 2;

export interface Port61Options {
  name?: string;
  pit: Pit8254;
  clock: Clock;
}

export interface Port61Stats {
  reads: number;
  writes: number;
  badAccesses: number;
}

export class Port61 implements IoDevice {
  readonly name: string;
  readonly stats: Port61Stats = { reads: 0, writes: 0, badAccesses: 0 };
  private readonly pit: Pit8254;
  private readonly clock: Clock;
  private speakerData = false;

  constructor(options: Port61Options) {
    this.name = options.name ?? 'port61';
    this.pit = options.pit;
    this.clock = options.clock;
  }

  get speakerEnabled(): boolean {
    return this.speakerData;
  }

  read(offset: number, size: number): number {
    const v = splitRead(offset, size, PORT61_PORT_COUNT, () => {
      this.stats.reads++;
      const refresh = (this.clock() >> REFRESH_SHIFT) & 1n ? P61_REFRESH : 0;
      return (
        (this.pit.getGate(SPEAKER_CHANNEL) ? P61_GATE2 : 0) |
        (this.speakerData ? P61_SPEAKER_DATA : 0) |
        refresh |
        (this.pit.getOut(SPEAKER_CHANNEL) ? P61_OUT2 : 0)
      );
    });
    if (v === null) {
      this.stats.badAccesses++;
      return floatingValue(size);
    }
    return v;
  }

  write(offset: number, size: number, value: number): void {
    const ok = splitWrite(offset, size, value, PORT61_PORT_COUNT, (_off, byte) => {
      this.stats.writes++;
      this.speakerData = (byte & P61_SPEAKER_DATA) !== 0;
      this.pit.setGate(SPEAKER_CHANNEL, (byte & P61_GATE2) !== 0);
    });
    if (!ok) this.stats.badAccesses++;
  }
}
