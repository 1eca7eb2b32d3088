import { describe, expect, it } from 'vitest';
import { EINVAL, EBUSY } from '../errno.js';
import { EVTCHNOP as OP } from './dispatch.js';
import { DOMID_SELF } from './ops.js';
import { SHINFO_MASK_32, SHINFO_MASK_64, SHINFO_PENDING_32, SHINFO_PENDING_64 } from './two-level.js';
import { makeFixture, SHINFO_GPA } from './testing/fixture.js';
import { TwoLevelGuest } from './testing/guest-model.js';
import { atomicViews } from './shared-info.js';

function ipi(f: ReturnType<typeof makeFixture>, vcpu: number): number {
  expect(f.op(OP.bind_ipi, [[0, 4, vcpu]])).toBe(0);
  return f.u32(4);
}

describe('2-level delivery (§3)', () => {
  it('sets pending, selector and upcall_pending in order; upcall only on 0→1', () => {
    const f = makeFixture();
    f.ec.setSharedInfo(SHINFO_GPA, true);
    const ports = Array.from({ length: 70 }, () => ipi(f, 1));
    const p = ports[66]!; // word 1
    f.ec.delivery.send(p);
    expect(f.mem.readU64(SHINFO_GPA + SHINFO_PENDING_64 + 8)).toBe(1n << BigInt(p - 64));
    expect(f.mem.readU64(SHINFO_GPA + 64 + 8)).toBe(2n); // vCPU1 pending_sel bit 1
    expect(f.mem.readU8(SHINFO_GPA + 64)).toBe(1);
    expect(f.upcalls).toEqual([1]);
    f.ec.delivery.send(p); // coalesced
    f.ec.delivery.send(ports[0]!); // selector word 0 new, upcall already pending
    expect(f.upcalls).toEqual([1]);
    const s = f.ec.snapshot().ports.find((x) => x.port === p)!;
    expect(s).toMatchObject({ type: 'ipi', vcpu: 1, sends: 2, deliveries: 1, coalesced: 1, upcalls: 1 });
    expect(f.ec.snapshot().upcallsPerVcpu).toEqual([0, 1, 0, 0]);
  });

  it('masking holds the event; EVTCHNOP_unmask re-delivers it', () => {
    const f = makeFixture();
    f.ec.setSharedInfo(SHINFO_GPA, true);
    const p = ipi(f, 0);
    f.ec.delivery.l2.mask(p);
    f.ec.delivery.send(p);
    expect(f.ec.delivery.isPending(p)).toBe(true);
    expect(f.mem.readU8(SHINFO_GPA)).toBe(0);
    expect(f.upcalls).toEqual([]);
    expect(f.op(OP.unmask, [[0, 4, p]])).toBe(0);
    expect(f.ec.delivery.isMasked(p)).toBe(false);
    expect(f.upcalls).toEqual([0]);
    expect(f.ec.snapshot().ports[0]).toMatchObject({ maskedPending: 1, deliveries: 1, upcalls: 1 });
    // unmask of an unmasked port does nothing more
    f.op(OP.unmask, [[0, 4, p]]);
    expect(f.upcalls).toEqual([0]);
  });

  it('bind_vcpu moves a pending port and re-raises it on the new vCPU', () => {
    const f = makeFixture();
    f.ec.setSharedInfo(SHINFO_GPA, true);
    expect(f.op(OP.alloc_unbound, [[0, 2, DOMID_SELF], [2, 2, DOMID_SELF]])).toBe(0);
    const r = f.u32(4);
    f.op(OP.bind_interdomain, [[0, 2, DOMID_SELF], [4, 4, r]]);
    const l = f.u32(8);
    expect(f.upcalls).toEqual([0]); // local end pending at bind
    // Guest on vCPU0 does not handle it yet; the port moves to vCPU2.
    expect(f.op(OP.bind_vcpu, [[0, 4, l], [4, 4, 2]])).toBe(0);
    expect(f.upcalls).toEqual([0, 2]);
    expect(f.mem.readU64(SHINFO_GPA + 2 * 64 + 8)).toBe(1n);
    // a masked pending port is not re-raised (pseudo-unmask leaves the mask alone)
    f.ec.delivery.l2.mask(l);
    f.op(OP.bind_vcpu, [[0, 4, l], [4, 4, 3]]);
    expect(f.upcalls).toEqual([0, 2]);
    expect(f.ec.delivery.isMasked(l)).toBe(true);
  });

  it('32-bit layout: u32 words at 0x800 / 0x880, pending_sel @4, 1024 ports', () => {
    const f = makeFixture();
    f.ec.setSharedInfo(SHINFO_GPA, false);
    const ports = Array.from({ length: 40 }, () => ipi(f, 0));
    const p = ports[35]!; // 36: word 1 bit 4
    f.ec.delivery.send(p);
    expect(f.mem.readU32(SHINFO_GPA + SHINFO_PENDING_32 + 4)).toBe(1 << 4);
    expect(f.mem.readU32(SHINFO_GPA + 4)).toBe(2);
    f.mem.writeU32(SHINFO_GPA + SHINFO_MASK_32, 1 << 31);
    expect(f.ec.delivery.l2.isMasked(31)).toBe(true);
    expect(f.ec.ports.limit).toBe(1024);
    expect(f.ec.delivery.l2.setPending(1024, 0)).toBe(8); // EV_DROPPED: beyond the 2L range
  });

  it('events without shared_info are dropped; vCPU ≥ 32 needs a registered vcpu_info', () => {
    const f = makeFixture({ nrVcpus: 40 });
    const p = ipi(f, 0);
    expect(f.ec.delivery.send(p)).toBe(0);
    expect(f.ec.snapshot().ports[0]!.deliveries).toBe(0);
    f.ec.setSharedInfo(SHINFO_GPA, true);
    const q = ipi(f, 35);
    f.ec.delivery.send(q);
    expect(f.upcalls).toEqual([]);
    expect(f.ec.registerVcpuInfo(35, 0x40000 + 4090)).toBe(-EINVAL); // crosses a page
    expect(f.ec.registerVcpuInfo(35, 0x40000 + 64)).toBe(0);
    expect(f.ec.registerVcpuInfo(35, 0x40000 + 128)).toBe(-EBUSY);
    expect(f.upcalls).toEqual([35]); // Xen marks an upcall pending on registration
    expect(f.mem.readU64(0x40000 + 64 + 8)).toBe(0xffffffffffffffffn);
    f.mem.writeU8(0x40000 + 64, 0);
    f.mem.writeU64(0x40000 + 64 + 8, 0n);
    f.ec.delivery.clearPending(q);
    f.ec.delivery.send(q);
    expect(f.upcalls).toEqual([35, 35]);
  });

  it('guest handler model consumes what the VMM delivered', () => {
    const f = makeFixture();
    f.ec.setSharedInfo(SHINFO_GPA, true);
    const ports = Array.from({ length: 130 }, () => ipi(f, 0));
    for (const p of ports) f.ec.delivery.send(p);
    const v = atomicViews(f.mem.buffer);
    const seen: number[] = [];
    new TwoLevelGuest(v.u8, v.u64, SHINFO_GPA, SHINFO_GPA).handleUpcall((p) => seen.push(p));
    expect(seen).toEqual(ports);
    expect(f.mem.readU64(SHINFO_GPA + SHINFO_MASK_64)).toBe(0n);
  });
});
