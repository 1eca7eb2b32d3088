// Debug-exit port (0xf4 by default): the lab guests' way to end the VM with a status. Any
// write of any size ends the VM through onExit(value & 0xff); the machine decides what
// "end" means. Reads float high like an unconnected port.
//
// Difference with QEMU's isa-debug-exit: QEMU exits the QEMU process with (value << 1) | 1,
// so a guest status 0 becomes host exit code 1 and only odd codes exist. Here the status
// is passed through unchanged (low byte of the written value), so `outl(0xf4, 0)` means
// success and the harness needs no decoding.
import type { IoDevice } from '../bus/types.js';
import { floatingValue, isValidAccessSize, toU32 } from './isa-access.js';

export const DEBUG_EXIT_PORT_COUNT = 1;
const STATUS_MASK = 0xff;

export interface DebugExitOptions {
  name?: string;
  onExit: (status: number) => void;
}

export interface DebugExitStats {
  exits: number;
  reads: number;
  badAccesses: number;
}

export class DebugExit implements IoDevice {
  readonly name: string;
  readonly stats: DebugExitStats = { exits: 0, reads: 0, badAccesses: 0 };
  /** Status of the first exit request, or null while the guest has not asked to exit. */
  lastStatus: number | null = null;
  private readonly onExit: (status: number) => void;

  constructor(options: DebugExitOptions) {
    this.name = options.name ?? 'debug-exit';
    this.onExit = options.onExit;
  }

  read(_offset: number, size: number): number {
    this.stats.reads++;
    return floatingValue(size);
  }

  write(_offset: number, size: number, value: number): void {
    // Any write ends the VM, even a malformed one: the guest clearly wanted out.
    if (!isValidAccessSize(size)) this.stats.badAccesses++;
    const status = toU32(value) & STATUS_MASK;
    this.stats.exits++;
    this.lastStatus = status;
    this.onExit(status);
  }
}
