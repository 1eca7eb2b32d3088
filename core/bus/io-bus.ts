// Address-range dispatch for port I/O and MMIO exits. Devices register [base, base+length);
// registration rejects overlaps (naming both devices) because two devices answering one
// address is a configuration bug, not something to resolve silently. Accesses nobody claims
// are answered the way a PC answers them (reads all-ones, writes dropped) and counted.
import { VmmError } from '../errors.js';
import type { IoDevice, IoRange } from './types.js';

export class BusOverlapError extends VmmError {}

export interface UnassignedAccess {
  address: number;
  size: number;
  write: boolean;
}

export class IoBus {
  private ranges: IoRange[] = [];
  readonly stats = { reads: 0, writes: 0, unassignedReads: 0, unassignedWrites: 0 };
  /** The last few unassigned accesses, for the log and the UI (bounded). */
  readonly recentUnassigned: UnassignedAccess[] = [];

  constructor(
    readonly name: string,
    private readonly limit: number,
  ) {}

  register(base: number, length: number, device: IoDevice): void {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length <= 0 || base + length > this.limit) {
      throw new BusOverlapError(`${this.name}: ${device.name} range 0x${base.toString(16)}+${length} is outside the bus`);
    }
    const clash = this.ranges.find((r) => base < r.base + r.length && r.base < base + length);
    if (clash) {
      throw new BusOverlapError(
        `${this.name}: ${device.name} at 0x${base.toString(16)}+0x${length.toString(16)} overlaps ${clash.device.name} at 0x${clash.base.toString(16)}+0x${clash.length.toString(16)}`,
      );
    }
    this.ranges.push({ base, length, device });
    this.ranges.sort((a, b) => a.base - b.base);
  }

  unregister(device: IoDevice): void {
    this.ranges = this.ranges.filter((r) => r.device !== device);
  }

  find(address: number): IoRange | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid]!;
      if (address < r.base) hi = mid - 1;
      else if (address >= r.base + r.length) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  list(): readonly IoRange[] {
    return this.ranges;
  }

  read(address: number, size: number): number {
    this.stats.reads++;
    const r = this.find(address);
    if (!r || address + size > r.base + r.length) {
      this.unassigned(address, size, false);
      return size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    return r.device.read(address - r.base, size);
  }

  write(address: number, size: number, value: number): void {
    this.stats.writes++;
    const r = this.find(address);
    if (!r || address + size > r.base + r.length) {
      this.unassigned(address, size, true);
      return;
    }
    r.device.write(address - r.base, size, value);
  }

  private unassigned(address: number, size: number, write: boolean): void {
    if (write) this.stats.unassignedWrites++;
    else this.stats.unassignedReads++;
    if (this.recentUnassigned.length >= 32) this.recentUnassigned.shift();
    this.recentUnassigned.push({ address, size, write });
  }
}
