// Splits one BAR into sub-regions served by different handlers, so the MSI-X table, the PBA
// and a device's own registers can share a BAR the way assigned ("passthrough") devices lay
// them out. Offsets given to handlers are relative to the sub-region. Bytes no handler claims
// (and accesses straddling two handlers) read 0 and drop writes, counted: the BAR's owner
// decodes the whole BAR, so there is no master abort to model.
import type { IoDevice } from '../bus/types.js';
import { PciConfigError } from './errors.js';

interface Sub {
  start: number;
  end: number;
  device: IoDevice;
}

export class BarRegionMap implements IoDevice {
  private readonly subs: Sub[] = [];
  readonly stats = { unclaimedReads: 0, unclaimedWrites: 0 };

  constructor(
    readonly name: string,
    readonly size: number,
  ) {}

  /** Serve [offset, offset+length) with `device`; overlaps are a definition error. */
  add(offset: number, length: number, device: IoDevice): this {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0 || offset + length > this.size) {
      throw new PciConfigError(`${this.name}: ${device.name} at 0x${offset.toString(16)}+0x${length.toString(16)} is outside the ${this.size}-byte BAR`);
    }
    const clash = this.subs.find((s) => offset < s.end && s.start < offset + length);
    if (clash) throw new PciConfigError(`${this.name}: ${device.name} overlaps ${clash.device.name} at 0x${clash.start.toString(16)}`);
    this.subs.push({ start: offset, end: offset + length, device });
    return this;
  }

  private find(offset: number, size: number): Sub | undefined {
    return this.subs.find((s) => offset >= s.start && offset + size <= s.end);
  }

  read(offset: number, size: number): number {
    const s = this.find(offset, size);
    if (!s) {
      this.stats.unclaimedReads++;
      return 0;
    }
    return s.device.read(offset - s.start, size);
  }

  write(offset: number, size: number, value: number): void {
    const s = this.find(offset, size);
    if (!s) {
      this.stats.unclaimedWrites++;
      return;
    }
    s.device.write(offset - s.start, size, value);
  }
}
