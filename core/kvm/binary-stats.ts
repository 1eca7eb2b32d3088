// KVM's binary statistics (KVM_GET_STATS_FD, Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD"):
// a per-VM or per-vCPU fd whose header and descriptors are read once, and whose data block
// is re-read (pread) on every sample. Reading does not take the vCPU lock, so the host thread
// can sample a vCPU that is inside KVM_RUN.
import { nativeKvm } from './addon.js';
import { KVM_GET_STATS_FD } from './constants.js';

// kvm_stats_desc.flags fields
const TYPE_MASK = 0xf;
const UNIT_SHIFT = 4;
const UNIT_MASK = 0xf << UNIT_SHIFT;
const BASE_SHIFT = 8;
const BASE_MASK = 0xf << BASE_SHIFT;
export const STAT_TYPES = ['cumulative', 'instant', 'peak', 'linear-hist', 'log-hist'] as const;
export const STAT_UNITS = ['none', 'bytes', 'seconds', 'cycles', 'boolean'] as const;

const HEADER_SIZE = 24;
const DESC_FIXED = 16;

export interface StatDescriptor {
  name: string;
  type: string;
  unit: string;
  /** value * base^exponent is the quantity in `unit` (e.g. seconds with exponent -9). */
  base: 10 | 2;
  exponent: number;
  /** Number of u64 values (1 for scalars, buckets for histograms). */
  size: number;
  offset: number;
  bucketSize: number;
}

export class StatsFormatError extends Error {}

/** Parse the header + descriptor block (exported for unit tests with synthetic data). */
export function parseStatsLayout(buf: Uint8Array): { id: string; descriptors: StatDescriptor[]; dataOffset: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < HEADER_SIZE) throw new StatsFormatError('stats header truncated');
  const nameSize = dv.getUint32(4, true);
  const numDesc = dv.getUint32(8, true);
  const idOffset = dv.getUint32(12, true);
  const descOffset = dv.getUint32(16, true);
  const dataOffset = dv.getUint32(20, true);
  const descSize = DESC_FIXED + nameSize;
  if (nameSize > 4096 || numDesc > 65536 || descOffset + numDesc * descSize > buf.byteLength || idOffset + nameSize > buf.byteLength) {
    throw new StatsFormatError('stats descriptors out of range');
  }
  const cstr = (o: number): string => {
    const bytes = buf.subarray(o, o + nameSize);
    const end = bytes.indexOf(0);
    return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end)).toString('latin1');
  };
  const descriptors: StatDescriptor[] = [];
  for (let i = 0; i < numDesc; i++) {
    const o = descOffset + i * descSize;
    const flags = dv.getUint32(o, true);
    descriptors.push({
      name: cstr(o + DESC_FIXED),
      type: STAT_TYPES[flags & TYPE_MASK] ?? `type${flags & TYPE_MASK}`,
      unit: STAT_UNITS[(flags & UNIT_MASK) >> UNIT_SHIFT] ?? 'unknown',
      base: (flags & BASE_MASK) >> BASE_SHIFT === 1 ? 2 : 10,
      exponent: dv.getInt16(o + 4, true),
      size: dv.getUint16(o + 6, true),
      offset: dv.getUint32(o + 8, true),
      bucketSize: dv.getUint32(o + 12, true),
    });
  }
  return { id: cstr(idOffset), descriptors, dataOffset };
}

export class KvmBinaryStats {
  readonly id: string;
  readonly descriptors: StatDescriptor[];
  private readonly dataOffset: number;
  private readonly data: Uint8Array;

  private constructor(private readonly fd: number) {
    const n = nativeKvm();
    // The layout block is small (a few KiB); read generously, then exactly what the header says.
    const probe = new Uint8Array(64 * 1024);
    const got = n.pread(fd, probe, 0);
    const layout = parseStatsLayout(probe.subarray(0, got));
    this.id = layout.id;
    this.descriptors = layout.descriptors;
    this.dataOffset = layout.dataOffset;
    const end = Math.max(0, ...this.descriptors.map((d) => d.offset + d.size * 8));
    this.data = new Uint8Array(end);
  }

  /** Open the stats fd of a VM or vCPU fd; undefined when the host lacks KVM_CAP_BINARY_STATS_FD. */
  static open(ownerFd: number): KvmBinaryStats | undefined {
    let fd: number;
    try {
      fd = nativeKvm().ioctl(ownerFd, KVM_GET_STATS_FD, 0);
    } catch {
      return undefined;
    }
    return new KvmBinaryStats(fd);
  }

  /** Current scalar values by name (histograms summed into their total count). */
  sample(): Record<string, number> {
    nativeKvm().pread(this.fd, this.data, this.dataOffset);
    const dv = new DataView(this.data.buffer);
    const out: Record<string, number> = {};
    for (const d of this.descriptors) {
      let v = 0;
      for (let i = 0; i < d.size; i++) v += Number(dv.getBigUint64(d.offset + i * 8, true));
      out[d.name] = v;
    }
    return out;
  }

  close(): void {
    nativeKvm().close(this.fd);
  }
}
