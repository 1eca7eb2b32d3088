import { describe, expect, it } from 'vitest';
import { ENOSPC } from '../errno.js';
import { EVTCHNOP as OP } from './dispatch.js';
import { CB_HEAD, EVTCHN_FIFO_BUSY, EVTCHN_FIFO_LINKED, EVTCHN_FIFO_MASKED, EVTCHN_FIFO_PENDING } from './fifo.js';
import { ARRAY_GPA, CB_GPA, makeFixture, SHINFO_GPA, type Fixture } from './testing/fixture.js';
import { FifoGuest } from './testing/guest-model.js';
import { atomicViews } from './shared-info.js';
import { EV_NEW } from './outcome.js';

function fifoSetup(pages = 1, nrVcpus = 4): { f: Fixture; guest: (vcpu?: number) => FifoGuest } {
  const f = makeFixture({ nrVcpus }, 8);
  f.ec.setSharedInfo(SHINFO_GPA, true);
  for (let v = 0; v < 2; v++) {
    expect(f.op(OP.init_control, [[0, 8, BigInt(CB_GPA / 4096)], [8, 4, v * 128], [12, 4, v]])).toBe(0);
  }
  for (let i = 0; i < pages; i++) expect(f.op(OP.expand_array, [[0, 8, BigInt(ARRAY_GPA / 4096 + i)]])).toBe(0);
  const i32 = atomicViews(f.mem.buffer).i32;
  const pageOffs = Array.from({ length: 128 }, (_, i) => ARRAY_GPA + i * 4096);
  return { f, guest: (v = 0) => new FifoGuest(i32, CB_GPA + v * 128, pageOffs) };
}
const ipi = (f: Fixture, vcpu = 0): number => (f.op(OP.bind_ipi, [[0, 4, vcpu]]), f.u32(4));
const word = (f: Fixture, port: number): number => f.mem.readU32(ARRAY_GPA + port * 4) | 0;

describe('FIFO ABI (§4)', () => {
  it('links events in order, sets READY only for a new head, one upcall', () => {
    const { f, guest } = fifoSetup();
    const ports = [ipi(f), ipi(f), ipi(f)];
    for (const p of ports) f.ec.delivery.send(p);
    expect(f.mem.readU32(CB_GPA)).toBe(1 << 7); // default priority 7
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 7 * 4)).toBe(ports[0]);
    expect(word(f, ports[0]!) & 0x1ffff).toBe(ports[1]);
    expect(word(f, ports[1]!) & 0x1ffff).toBe(ports[2]);
    expect(word(f, ports[2]!) & (EVTCHN_FIFO_PENDING | EVTCHN_FIFO_LINKED)).toBe(EVTCHN_FIFO_PENDING | EVTCHN_FIFO_LINKED);
    expect(f.upcalls).toEqual([0]);
    const seen: number[] = [];
    guest().handleEvents((p) => seen.push(p));
    expect(seen).toEqual(ports);
    for (const p of ports) expect(word(f, p)).toBe(0);
  });

  it('a higher-priority event is dequeued first', () => {
    const { f, guest } = fifoSetup();
    const lo = ipi(f);
    const mid = ipi(f);
    const hi = ipi(f);
    expect(f.op(OP.set_priority, [[0, 4, lo], [4, 4, 12]])).toBe(0);
    expect(f.op(OP.set_priority, [[0, 4, hi], [4, 4, 1]])).toBe(0);
    for (const p of [lo, mid, hi]) f.ec.delivery.send(p);
    expect(f.mem.readU32(CB_GPA)).toBe((1 << 12) | (1 << 7) | (1 << 1));
    const seen: number[] = [];
    guest().handleEvents((p) => seen.push(p));
    expect(seen).toEqual([hi, mid, lo]);
  });

  it('tail of an emptied queue: next event becomes a new head (READY again)', () => {
    const { f, guest } = fifoSetup();
    const a = ipi(f);
    const b = ipi(f);
    f.ec.delivery.send(a);
    guest().handleEvents(() => {});
    f.upcalls.length = 0;
    f.mem.writeU8(SHINFO_GPA, 0); // guest cleared upcall_pending
    f.ec.delivery.send(b);
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 28)).toBe(b);
    expect(f.upcalls).toEqual([0]);
    f.ec.delivery.send(a); // re-link a behind b (same queue, a no longer the tail)
    expect(word(f, b) & 0x1ffff).toBe(a);
  });

  it('masked events stay pending; guest unmask → EVTCHNOP_unmask relinks', () => {
    const { f, guest } = fifoSetup();
    const p = ipi(f);
    const g = guest();
    g.mask(p);
    expect(f.ec.delivery.sendOutcome(p)).toBe(EV_NEW | 2);
    expect(word(f, p) & EVTCHN_FIFO_LINKED).toBe(0);
    g.unmask(p, (port) => expect(f.op(OP.unmask, [[0, 4, port]])).toBe(0));
    expect(word(f, p) & (EVTCHN_FIFO_MASKED | EVTCHN_FIFO_LINKED)).toBe(EVTCHN_FIFO_LINKED);
    const seen: number[] = [];
    g.handleEvents((x) => seen.push(x));
    expect(seen).toEqual([p]);
  });

  it('tail unlinked by the guest (LINKED lost) → new head; BUSY tail is cleared after linking', () => {
    const { f } = fifoSetup();
    const a = ipi(f);
    const b = ipi(f);
    f.ec.delivery.send(a);
    // guest consumed `a` concurrently: cleared LINKED (and PENDING)
    Atomics.and(atomicViews(f.mem.buffer).i32, (ARRAY_GPA + a * 4) / 4, ~(EVTCHN_FIFO_LINKED | EVTCHN_FIFO_PENDING));
    f.ec.delivery.send(b);
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 28)).toBe(b);
    const c = ipi(f);
    f.mem.writeU32(ARRAY_GPA + b * 4, (word(f, b) | EVTCHN_FIFO_BUSY) >>> 0);
    f.ec.delivery.send(c);
    expect(word(f, b) & (EVTCHN_FIFO_BUSY | 0x1ffff)).toBe(c); // LINK set, BUSY cleared
  });

  it('init_control copies 2L pending bits into the shadow; expand_array re-raises them', () => {
    const f = makeFixture({}, 8);
    f.ec.setSharedInfo(SHINFO_GPA, true);
    const p = ipi(f);
    f.ec.delivery.send(p); // pending in 2L
    expect(f.op(OP.init_control, [[0, 8, BigInt(CB_GPA / 4096)], [8, 4, 0], [12, 4, 0]])).toBe(0);
    expect(f.ec.delivery.isPending(p)).toBe(true); // shadow
    const q = ipi(f);
    f.ec.delivery.send(q);
    expect(f.op(OP.expand_array, [[0, 8, BigInt(ARRAY_GPA / 4096)]])).toBe(0);
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 28)).toBe(p);
    expect(word(f, p) & 0x1ffff).toBe(q);
  });

  it('expand_array past 8192 ports, -ENOSPC after 128 pages; busy ports are not reused', () => {
    const { f, guest } = fifoSetup(1);
    for (let i = 1; i < 128; i++) expect(f.op(OP.expand_array, [[0, 8, BigInt(ARRAY_GPA / 4096 + i)]])).toBe(0);
    expect(f.op(OP.expand_array, [[0, 8, BigInt(ARRAY_GPA / 4096)]])).toBe(-ENOSPC);
    for (let i = 1; i < 9000; i++) f.ec.ops.bindIpi(0);
    expect(f.ec.ops.bindIpi(1)).toBe(9000);
    f.ec.delivery.send(8500);
    f.ec.delivery.send(9000);
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 28)).toBe(8500);
    expect(f.mem.readU32(CB_GPA + 128 + CB_HEAD + 28)).toBe(9000);
    // close 8500 while still LINKED: the next allocation skips it
    expect(f.op(OP.close, [[0, 4, 8500]])).toBe(0);
    expect(f.ec.ops.bindIpi(0)).toBe(9001);
    guest().handleEvents(() => {});
    expect(f.ec.ops.bindIpi(0)).toBe(8500);
  });

  it('priority change moves the port to a new queue; old tail invalidated (lastq)', () => {
    const { f, guest } = fifoSetup();
    const a = ipi(f);
    const b = ipi(f);
    f.ec.delivery.send(a);
    guest().handleEvents(() => {}); // a consumed; queue 7 private tail still = a
    f.op(OP.set_priority, [[0, 4, a], [4, 4, 2]]);
    f.ec.delivery.send(a); // links on queue 2, clears queue 7's tail
    f.ec.delivery.send(b); // queue 7: must become a new head, not linked behind a
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 2 * 4)).toBe(a);
    expect(f.mem.readU32(CB_GPA + CB_HEAD + 7 * 4)).toBe(b);
    expect(word(f, a) & 0x1ffff).toBe(0);
  });

  it('EVTCHNOP_reset goes back to 2-level', () => {
    const { f } = fifoSetup();
    ipi(f);
    expect(f.op(OP.reset, [[0, 2, 0x7ff0]])).toBe(0);
    expect(f.ec.snapshot().abi).toBe('2l');
    expect(f.ec.ports.limit).toBe(4096);
    expect(f.op(OP.expand_array, [[0, 8, 1n]])).toBe(-95);
  });

  it('state()/restore() rebuilds ports, maps and FIFO tails', () => {
    const { f, guest } = fifoSetup();
    const a = ipi(f);
    const b = ipi(f);
    const t = (f.op(OP.bind_virq, [[0, 4, 0], [4, 4, 1]]), f.u32(8));
    f.op(OP.set_priority, [[0, 4, b], [4, 4, 3]]);
    f.ec.delivery.send(a);
    const saved = JSON.parse(JSON.stringify(f.ec.state()));
    const ram = f.mem.bytes.slice(); // guest RAM is saved alongside
    f.op(OP.reset, [[0, 2, 0x7ff0]]);
    f.mem.bytes.set(ram);
    f.ec.restore(saved);
    expect(f.ec.state()).toEqual(saved);
    expect(f.ec.ports.read(b).priority).toBe(3);
    f.ec.delivery.raiseVirq(0, 1);
    expect(f.mem.readU32(CB_GPA + 128 + CB_HEAD + 28)).toBe(t);
    const c = ipi(f);
    f.ec.delivery.send(c); // must link behind the restored tail `a`
    expect(word(f, a) & 0x1ffff).toBe(c);
    const seen: number[] = [];
    guest().handleEvents((p) => seen.push(p));
    expect(seen).toEqual([a, c]);
  });
});
