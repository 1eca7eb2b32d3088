// PHYSDEVOP_*: every sub-command, its errnos, 32/64-bit map_pirq layouts, bad pointers.
import { describe, expect, it } from 'vitest';
import { EBUSY, EFAULT, EINVAL, ENOENT, ENOSPC, ENOSYS, EPERM } from '../errno.js';
import { ARG_GPA, makeFixture } from '../evtchn/testing/fixture.js';
import { DOMID_SELF, MAP_PIRQ_TYPE, PHYSDEVOP, XENIRQSTAT_NEEDS_EOI } from './physdev.js';
import { PirqLayer } from './pirq.js';

type Field = [number, 1 | 2 | 4 | 8, number | bigint];

function rig(o: { nrPirqs?: number; callbackGsi?: number; ownDomid?: number } = {}) {
  const f = makeFixture();
  const layer = new PirqLayer({ nrPirqs: o.nrPirqs ?? 256, ownDomid: o.ownDomid, callbackGsi: () => o.callbackGsi ?? -1 });
  const call = (cmd: number, fields: Field[], at = ARG_GPA, longMode = true): number => {
    f.mem.fill(at, Math.min(64, f.mem.layout.ramSize - at), 0);
    for (const [off, w, v] of fields) {
      if (w === 2) f.mem.writeU16(at + off, Number(v));
      else if (w === 4) f.mem.writeU32(at + off, Number(v) >>> 0);
      else if (w === 8) f.mem.writeU64(at + off, BigInt(v));
      else f.mem.writeU8(at + off, Number(v));
    }
    return layer.physdevOp(cmd, at, f.args, longMode);
  };
  const map = (gsi: number, pirq = -1, type: number = MAP_PIRQ_TYPE.GSI, domid = DOMID_SELF) => {
    const rc = call(PHYSDEVOP.map_pirq, [[0, 2, domid], [4, 4, type], [8, 4, gsi], [12, 4, pirq]]);
    return rc < 0 ? rc : f.mem.readU32(ARG_GPA + 12) | 0;
  };
  const unmap = (pirq: number, domid = DOMID_SELF) => call(PHYSDEVOP.unmap_pirq, [[0, 2, domid], [4, 4, pirq]]);
  const eoi = (irq: number) => call(PHYSDEVOP.eoi, [[0, 4, irq]]);
  const status = (irq: number) => {
    const rc = call(PHYSDEVOP.irq_status_query, [[0, 4, irq], [4, 4, 0xdead]]);
    return rc < 0 ? rc : f.mem.readU32(ARG_GPA + 4);
  };
  const free = (type: number) => {
    const rc = call(PHYSDEVOP.get_free_pirq, [[0, 4, type]]);
    return rc < 0 ? rc : f.mem.readU32(ARG_GPA + 4);
  };
  return { f, layer, call, map, unmap, eoi, status, free };
}

describe('PHYSDEVOP_map_pirq (13)', () => {
  it('GSI type: allocates from 16 up, or takes the given free/allocated PIRQ; writes pirq back', () => {
    const r = rig();
    expect(r.map(10)).toBe(16);
    expect(r.map(11)).toBe(17);
    expect(r.map(12, 40)).toBe(40);
    const p = r.free(0); // allocated (unbound) MSI PIRQ may be mapped explicitly
    expect(r.map(13, p)).toBe(p);
    expect(r.layer.table.gsiPirq(10)).toBe(16);
    expect(r.layer.table.gsiPirq(13)).toBe(p);
    // pirq < 0 for an already-mapped GSI returns its PIRQ (Xen), allocating nothing
    expect(r.map(10)).toBe(16);
    expect(r.free(1)).toBe(18);
  });

  it('errnos: -EPERM domid, -EINVAL type / GSI range / callback GSI / pirq range, -EBUSY, -ENOSPC', () => {
    const r = rig({ nrPirqs: 26, callbackGsi: 5, ownDomid: 3 });
    expect(r.map(10, -1, MAP_PIRQ_TYPE.GSI, 4)).toBe(-EPERM);
    expect(r.map(10, -1, MAP_PIRQ_TYPE.GSI, 3)).toBe(16); // own domid is self
    for (const t of [MAP_PIRQ_TYPE.MSI, MAP_PIRQ_TYPE.MSI_SEG, MAP_PIRQ_TYPE.MULTI_MSI, MAP_PIRQ_TYPE.UNKNOWN, 99, -1]) {
      expect(r.map(11, -1, t)).toBe(-EINVAL);
    }
    expect(r.map(24)).toBe(-EINVAL);
    expect(r.map(-1)).toBe(-EINVAL);
    expect(r.map(0x7fffffff)).toBe(-EINVAL);
    expect(r.map(5)).toBe(-EINVAL); // the event-channel callback GSI
    expect(r.map(11, 26)).toBe(-EINVAL);
    expect(r.map(11, 16)).toBe(-EBUSY); // PIRQ 16 is mapped to GSI 10
    expect(r.map(10, 20)).toBe(-EBUSY); // GSI 10 is mapped to PIRQ 16
    expect(r.layer.table.inUse(20)).toBe(false);
    for (let g = 11; g < 20; g++) r.map(g);
    expect([r.layer.table.gsiPirq(17), r.layer.table.gsiPirq(18), r.layer.table.gsiPirq(19)]).toEqual([23, 25, 24]);
    expect(r.map(20)).toBe(-ENOSPC);
    expect(r.layer.physdev.stats().errors['map_pirq EINVAL']).toBeGreaterThan(5);
  });

  it('32-bit layout is 36 bytes, 64-bit 40: a struct ending at the end of RAM faults only in 64-bit mode', () => {
    const r = rig();
    const end = r.f.mem.layout.ramSize; // 4 MiB of low RAM only
    expect(end).toBeGreaterThan(0);
    const fields: Field[] = [[0, 2, DOMID_SELF], [4, 4, MAP_PIRQ_TYPE.GSI], [8, 4, 9], [12, 4, -1]];
    expect(r.call(PHYSDEVOP.map_pirq, fields, end - 36, false)).toBe(0);
    expect(r.f.mem.readU32(end - 36 + 12)).toBe(16);
    expect(r.call(PHYSDEVOP.map_pirq, fields, end - 36, true)).toBe(-EFAULT);
    expect(r.call(PHYSDEVOP.map_pirq, fields, end - 40, true)).toBe(0);
  });

  it('-EFAULT for bad pointers; a read-only struct frees the PIRQ it allocated', () => {
    const r = rig();
    expect(r.layer.physdevOp(PHYSDEVOP.map_pirq, 0xffff_ffff_0000n, r.f.args)).toBe(-EFAULT);
    r.f.mem.fill(ARG_GPA, 40, 0);
    r.f.mem.writeU16(ARG_GPA, DOMID_SELF);
    r.f.mem.writeU32(ARG_GPA + 4, MAP_PIRQ_TYPE.GSI);
    r.f.mem.writeU32(ARG_GPA + 8, 9);
    r.f.mem.writeU32(ARG_GPA + 12, 0xffffffff);
    r.f.args.readOnly.add(ARG_GPA / 4096);
    expect(r.layer.physdevOp(PHYSDEVOP.map_pirq, ARG_GPA, r.f.args)).toBe(-EFAULT);
    expect(r.layer.table.inUse(16)).toBe(false);
    expect(r.layer.table.gsiPirq(9)).toBe(-1);
    const throwing = { read: () => { throw new Error('boom'); }, write: () => 0 };
    expect(r.layer.physdevOp(PHYSDEVOP.map_pirq, ARG_GPA, throwing)).toBe(-EFAULT);
  });
});

describe('PHYSDEVOP_unmap_pirq (14)', () => {
  it('frees a GSI PIRQ; -EPERM, -EINVAL range, -ENOENT unused, -EINVAL not GSI-mapped', () => {
    const r = rig();
    expect(r.map(10)).toBe(16);
    const m = r.free(0);
    expect(r.unmap(16, 7)).toBe(-EPERM);
    expect(r.unmap(256)).toBe(-EINVAL);
    expect(r.unmap(-1)).toBe(-EINVAL);
    expect(r.unmap(17)).toBe(-ENOENT);
    expect(r.unmap(m)).toBe(-EINVAL);
    expect(r.unmap(16)).toBe(0);
    expect(r.layer.table.gsiPirq(10)).toBe(-1);
    expect(r.unmap(16)).toBe(-ENOENT);
    expect(r.layer.physdevOp(PHYSDEVOP.unmap_pirq, 0xffffffffffffn, r.f.args)).toBe(-EFAULT);
  });
});

describe('PHYSDEVOP_eoi (12), irq_status_query (5), get_free_pirq (23), the rest', () => {
  it('eoi: 0 for a GSI PIRQ; -EINVAL range, -ENOENT unused, -EINVAL not GSI', () => {
    const r = rig();
    r.map(10);
    const m = r.free(0);
    expect(r.eoi(16)).toBe(0);
    expect(r.eoi(256)).toBe(-EINVAL);
    expect(r.eoi(0xffffffff)).toBe(-EINVAL);
    expect(r.eoi(17)).toBe(-ENOENT);
    expect(r.eoi(m)).toBe(-EINVAL);
    expect(r.layer.physdevOp(PHYSDEVOP.eoi, 0xffffffffffffn, r.f.args)).toBe(-EFAULT);
  });

  it('irq_status_query: NEEDS_EOI for GSI PIRQs only; errnos; read-only struct -EFAULT', () => {
    const r = rig();
    r.map(10);
    const m = r.free(0);
    expect(r.status(16)).toBe(XENIRQSTAT_NEEDS_EOI);
    expect(r.status(m)).toBe(0);
    expect(r.status(256)).toBe(-EINVAL);
    expect(r.status(17)).toBe(-ENOENT);
    r.f.args.readOnly.add(ARG_GPA / 4096);
    expect(r.status(16)).toBe(-EFAULT);
  });

  it('get_free_pirq: by type, -ENOSPC, -EFAULT frees the PIRQ again', () => {
    const r = rig({ nrPirqs: 25 });
    expect(r.free(MAP_PIRQ_TYPE.GSI)).toBe(16);
    expect(r.free(MAP_PIRQ_TYPE.MSI)).toBe(24);
    expect(r.free(MAP_PIRQ_TYPE.MSI)).toBe(-ENOSPC);
    r.f.args.readOnly.add(ARG_GPA / 4096);
    expect(r.free(MAP_PIRQ_TYPE.GSI)).toBe(-EFAULT);
    expect(r.layer.table.inUse(17)).toBe(false);
  });

  it('every other sub-command is -ENOSYS (HVM set, pirq_eoi_gmfn_v1/v2, PV-only ops)', () => {
    const r = rig();
    for (const cmd of [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 15, 16, 17, 18, 22, 24, 28, 29, 1000, -1]) {
      expect(r.call(cmd, [])).toBe(-ENOSYS);
    }
    expect(r.layer.physdev.stats().calls.unknown).toBeGreaterThan(10);
    expect(r.layer.physdev.stats().errors['pirq_eoi_gmfn_v2 ENOSYS']).toBe(1);
  });
});
