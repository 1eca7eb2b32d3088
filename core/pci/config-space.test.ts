// Config space: header masks, W1C, byte lanes within a dword, hostile accesses, capability chains.
import { describe, expect, it, vi } from 'vitest';
import { ConfigSpace } from './config-space.js';
import { PciConfigError } from './errors.js';
import { CAP_ID, CMD_WRITABLE, REG, STATUS_CAP_LIST, STATUS_RCV_MASTER_ABORT, STATUS_SIG_SYSTEM_ERROR } from './regs.js';

function space(): ConfigSpace {
  const c = new ConfigSpace();
  c.initHeader({ vendorId: 0x1af4, deviceId: 0x1042, classCode: 0x010000, revision: 1, subsystemVendorId: 0x1af4, subsystemId: 2, interruptPin: 1 });
  return c;
}

describe('ConfigSpace header', () => {
  it('reads identification registers and keeps them read-only', () => {
    const c = space();
    expect(c.read(0, 4)).toBe(0x1042_1af4);
    expect(c.read(REG.revisionId, 4)).toBe(0x0100_0001);
    expect(c.read(REG.subsystemVendorId, 4)).toBe(0x0002_1af4);
    expect(c.read(REG.interruptLine, 4)).toBe(0x0000_0100);
    c.write(0, 4, 0xdeadbeef);
    expect(c.read(0, 4)).toBe(0x1042_1af4);
    expect(c.stats.readOnlyBitWrites).toBe(1);
  });

  it('masks the command register to the implemented bits', () => {
    const c = space();
    c.write(REG.command, 2, 0xffff);
    expect(c.read(REG.command, 2)).toBe(CMD_WRITABLE);
    c.write(REG.command, 2, 0);
    expect(c.read(REG.command, 2)).toBe(0);
  });

  it('clears status error bits on write-1 and keeps read-only status bits', () => {
    const c = space();
    c.set16(REG.status, STATUS_RCV_MASTER_ABORT | STATUS_SIG_SYSTEM_ERROR);
    c.write(REG.status, 2, 0);
    expect(c.read(REG.status, 2)).toBe(STATUS_RCV_MASTER_ABORT | STATUS_SIG_SYSTEM_ERROR);
    c.write(REG.status, 2, STATUS_RCV_MASTER_ABORT | STATUS_CAP_LIST);
    expect(c.read(REG.status, 2)).toBe(STATUS_SIG_SYSTEM_ERROR);
    // A dword write to command/status clears status bits with the upper half.
    c.write(REG.command, 4, (STATUS_SIG_SYSTEM_ERROR << 16) | 0x2);
    expect(c.read(REG.command, 4)).toBe(0x2);
  });

  it('serves 1/2/4-byte accesses at any alignment inside a dword', () => {
    const c = space();
    expect(c.read(1, 1)).toBe(0x1a);
    expect(c.read(2, 2)).toBe(0x1042);
    expect(c.read(1, 2)).toBe(0x421a);
    expect(c.read(3, 1)).toBe(0x10);
    c.write(REG.interruptLine, 1, 0x0b);
    c.write(REG.cacheLineSize, 1, 0x10);
    expect(c.read(REG.interruptLine, 1)).toBe(0x0b);
    expect(c.read(REG.cacheLineSize, 4) & 0xff).toBe(0x10);
  });

  it('answers hostile accesses with all-ones and never throws', () => {
    const c = space();
    expect(c.read(3, 2)).toBe(0xffff); // crosses a dword
    expect(c.read(2, 4)).toBe(0xffffffff);
    expect(c.read(0, 3)).toBe(0xffffffff);
    expect(c.read(4096, 1)).toBe(0xff);
    expect(c.read(-1, 1)).toBe(0xff);
    expect(c.read(NaN, 4)).toBe(0xffffffff);
    expect(() => c.write(3, 2, 0xffff)).not.toThrow();
    expect(() => c.write(0x3c, 1, NaN)).not.toThrow();
    expect(() => c.write(0x3c, 8, 1)).not.toThrow();
    expect(() => c.write(1.5, 1, 1)).not.toThrow();
    expect(c.stats.badAccesses).toBe(9);
    expect(c.read(0, 4)).toBe(0x1042_1af4);
  });

  it('reads the extended space as 0 and ignores writes there', () => {
    const c = space();
    c.write(0x100, 4, 0xffffffff);
    expect(c.read(0x100, 4)).toBe(0);
    expect(c.read(0xffc, 4)).toBe(0);
  });
});

describe('capability list', () => {
  it('chains capabilities from 0x34 and sets the status bit', () => {
    const c = space();
    expect(c.read(REG.status, 2) & STATUS_CAP_LIST).toBe(0);
    const a = c.addCapability(CAP_ID.vendor, 5);
    const b = c.addCapability(CAP_ID.pm, 8);
    const d = c.addCapability(CAP_ID.msix, 12);
    expect([a, b, d]).toEqual([0x40, 0x48, 0x50]);
    expect(c.read(REG.status, 2) & STATUS_CAP_LIST).toBe(STATUS_CAP_LIST);
    expect(c.read(REG.capabilitiesPtr, 1)).toBe(0x40);
    expect(c.read(0x40, 2)).toBe(0x4809);
    expect(c.read(0x48, 2)).toBe(0x5001);
    expect(c.read(0x50, 2)).toBe(0x0011);
    expect(c.capabilities()).toEqual([
      { id: CAP_ID.vendor, offset: 0x40 },
      { id: CAP_ID.pm, offset: 0x48 },
      { id: CAP_ID.msix, offset: 0x50 },
    ]);
    expect(c.findCapability(CAP_ID.pm)).toBe(0x48);
    // Guests cannot rewrite the chain.
    c.write(0x40, 2, 0);
    c.write(REG.capabilitiesPtr, 1, 0x80);
    expect(c.capabilities()).toHaveLength(3);
  });

  it('runs per-capability hooks on touched bytes only', () => {
    const c = space();
    const off = c.addCapability(CAP_ID.vendor, 8);
    c.setWriteMask(off + 4, 4, 0x0000ffff);
    const afterWrite = vi.fn();
    const beforeRead = vi.fn();
    c.watch(off + 4, 4, { afterWrite, beforeRead });
    c.write(off + 4, 4, 0x12345678);
    expect(afterWrite).toHaveBeenCalledWith(off + 4, 4);
    expect(c.read(off + 4, 4)).toBe(0x5678);
    expect(beforeRead).toHaveBeenCalledTimes(1);
    c.read(off, 4);
    c.write(off + 2, 2, 0);
    expect(beforeRead).toHaveBeenCalledTimes(1);
    expect(afterWrite).toHaveBeenCalledTimes(1);
    c.write(off + 6, 1, 0xff);
    expect(afterWrite).toHaveBeenLastCalledWith(off + 6, 1);
  });

  it('refuses a capability that does not fit in the standard space', () => {
    const c = space();
    c.addCapability(CAP_ID.vendor, 0xb0);
    expect(() => c.addCapability(CAP_ID.vendor, 0x20)).toThrow(PciConfigError);
  });

  it('stops walking a looping chain', () => {
    const c = space();
    const off = c.addCapability(CAP_ID.vendor, 4);
    c.set8(off + 1, off); // a device bug: points at itself
    expect(c.capabilities().length).toBeLessThanOrEqual(48);
  });
});
