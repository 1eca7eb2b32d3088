// Test fixture: anonymous guest RAM, an EventChannels instance with a recording Upcall,
// and a fake GuestArgs where guest-virtual = guest-physical, unmapped RAM is -EFAULT and
// writes into `readOnly` pages fail with -EFAULT. Helpers issue EVTCHNOPs with real
// structs placed in guest memory. For tests only.
import { GuestMemory } from '../../../memory/guest-memory.js';
import { pcLayout, MiB } from '../../../memory/layout.js';
import { EFAULT } from '../../errno.js';
import { EventChannels, type EventChannelsOptions } from '../evtchn.js';
import type { GuestArgs } from '../types.js';

export const SHINFO_GPA = 0x10000;
export const ARG_GPA = 0x20000;
export const CB_GPA = 0x30000;
export const ARRAY_GPA = 0x100000; // up to 128 pages: 0x100000..0x180000

export class FakeArgs implements GuestArgs {
  readonly readOnly = new Set<number>();
  constructor(private readonly mem: GuestMemory) {}
  read(gva: bigint | number, len: number): Uint8Array | number {
    const a = Number(gva);
    return this.mem.isRam(a, len) ? this.mem.read(a, len) : -EFAULT;
  }
  write(gva: bigint | number, bytes: Uint8Array): number {
    const a = Number(gva);
    if (!this.mem.isRam(a, bytes.length) || this.readOnly.has(Math.floor(a / 4096))) return -EFAULT;
    this.mem.write(a, bytes);
    return 0;
  }
}

export interface Fixture {
  mem: GuestMemory;
  ec: EventChannels;
  args: FakeArgs;
  upcalls: number[];
  /** Issue an EVTCHNOP with a struct built from [offset, size, value] fields at ARG_GPA. */
  op(cmd: number, fields: [number, 1 | 2 | 4 | 8, number | bigint][], size?: number): number;
  u32(off: number): number;
}

export function makeFixture(o: Partial<EventChannelsOptions> = {}, ramMiB = 4): Fixture {
  const mem = GuestMemory.anonymous(pcLayout(ramMiB * MiB));
  const upcalls: number[] = [];
  const ec = new EventChannels({ mem, nrVcpus: 4, upcall: { raise: (v) => upcalls.push(v) }, ...o });
  const args = new FakeArgs(mem);
  return {
    mem,
    ec,
    args,
    upcalls,
    op(cmd, fields, size = 32) {
      mem.fill(ARG_GPA, size, 0);
      for (const [off, w, v] of fields) {
        if (w === 1) mem.writeU8(ARG_GPA + off, Number(v));
        else if (w === 2) mem.writeU16(ARG_GPA + off, Number(v));
        else if (w === 4) mem.writeU32(ARG_GPA + off, Number(v));
        else mem.writeU64(ARG_GPA + off, BigInt(v));
      }
      return ec.hypercall(cmd, ARG_GPA, args);
    },
    u32: (off) => mem.readU32(ARG_GPA + off),
  };
}
