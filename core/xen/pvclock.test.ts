import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { pcLayout, MiB } from '../memory/layout.js';
import { PVCLOCK_TSC_STABLE, scaleDelta, timeScale, writeVcpuTime } from './pvclock.js';
import { D, XenState } from './xen-state.js';

describe('pvclock (vcpu_time_info)', () => {
  it('timeScale turns one second of ticks into 1e9 ns for common TSC rates', () => {
    for (const hz of [1_000_000_000n, 2_500_621_000n, 3_000_000_000n, 100_000_000n, 4_999_999_999n]) {
      const s = timeScale(hz);
      expect(Number(scaleDelta(hz, s) - 1_000_000_000n), `${hz} Hz`).toBeLessThanOrEqual(1);
      expect(Number(scaleDelta(hz, s) - 1_000_000_000n), `${hz} Hz`).toBeGreaterThanOrEqual(-2);
      expect(s.mul).toBeGreaterThan(2 ** 31 - 1); // Xen keeps mul in [2^31, 2^32)
      expect(s.mul).toBeLessThan(2 ** 32);
    }
  });

  it('writes a consistent record in the vCPU default slot once calibrated, version even', () => {
    const mem = GuestMemory.anonymous(pcLayout(16 * MiB));
    const s = XenState.create(2, mem);
    expect(writeVcpuTime(s, 1)).toBe(false); // no shared_info, no calibration
    s.set(D.SHINFO_GFN, 0x10);
    expect(writeVcpuTime(s, 1)).toBe(false); // not calibrated yet
    s.setTscCalibration(1_000_000n, s.nowNs(), 2_000_000n); // 2 GHz
    expect(writeVcpuTime(s, 1)).toBe(true);
    const at = 0x10000 + 64 + 0x20;
    expect(mem.readU32(at) % 2).toBe(0);
    expect(mem.readU32(at)).toBe(2);
    const tsc = mem.readU64(at + 8);
    const sys = mem.readU64(at + 16);
    const scale = { mul: mem.readU32(at + 24), shift: (mem.readU8(at + 28) << 24) >> 24 };
    expect(mem.readU8(at + 29)).toBe(PVCLOCK_TSC_STABLE);
    // what a guest computes 2,000,000 ticks later: 1 ms more
    const later = sys + scaleDelta(tsc + 2_000_000n - tsc, scale);
    expect(Number(later - sys)).toBeCloseTo(1_000_000, -1);
    expect(writeVcpuTime(s, 1)).toBe(true);
    expect(mem.readU32(at)).toBe(4);
  });
});
