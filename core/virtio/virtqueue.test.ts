import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../memory/guest-memory.js';
import { pcLayout, MiB } from '../memory/layout.js';
import { DriverQueue } from '../../test/support/virtio-driver.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './constants.js';
import { SplitVirtqueue, VirtqueueError, ringPartSizes, type DmaMemory } from './virtqueue.js';

const SIZE = 8;
const RAM = 2 * MiB;

function setup(opts: { indirect?: boolean; eventIdx?: boolean } = {}) {
  const mem = GuestMemory.anonymous(pcLayout(RAM));
  const dq = new DriverQueue(mem, 0x1000, SIZE);
  const dma: DmaMemory = { slice: (a, l) => (mem.offsetOf(a, l) >= 0 ? mem.view(a, l) : undefined) };
  const sizes = ringPartSizes(SIZE, true);
  const vq = new SplitVirtqueue({
    size: SIZE,
    desc: mem.view(dq.desc, sizes.desc),
    avail: mem.view(dq.avail, sizes.avail),
    used: mem.view(dq.used, sizes.used),
    memory: dma,
    indirect: opts.indirect ?? false,
    eventIdx: opts.eventIdx ?? false,
  });
  return { mem, dq, vq };
}

describe('SplitVirtqueue', () => {
  it('pops a chain with readable then writable buffers and returns it through the used ring', () => {
    const { mem, dq, vq } = setup();
    mem.write(0x10000, Uint8Array.of(1, 2, 3));
    const head = dq.add([
      { gpa: 0x10000, len: 3 },
      { gpa: 0x20000, len: 100, write: true },
      { gpa: 0x30000, len: 1, write: true },
    ]);
    expect(vq.pending()).toBe(1);
    const c = vq.pop()!;
    expect(c.head).toBe(head);
    expect(c.readable.map((b) => [...b])).toEqual([[1, 2, 3]]);
    expect(c.writable.map((b) => b.length)).toEqual([100, 1]);
    expect(c.readableBytes).toBe(3);
    expect(c.writableBytes).toBe(101);
    expect(vq.pop()).toBeNull();
    c.writable[1]![0] = 0x5a;
    vq.push(c.head, 1);
    expect(dq.takeUsed()).toEqual([{ id: head, len: 1 }]);
    expect(mem.readU8(0x30000)).toBe(0x5a);
    expect(vq.lastAvailIdx).toBe(1);
  });

  it('detects descriptor loops', () => {
    const { dq, vq } = setup();
    dq.writeDesc(0, 0x10000, 8, VIRTQ_DESC_F_NEXT, 1);
    dq.writeDesc(1, 0x10000, 8, VIRTQ_DESC_F_NEXT, 0);
    dq.publish(0);
    expect(() => vq.pop()).toThrow(/loops/);
  });

  it('refuses out-of-range heads, next indices and buffers', () => {
    const a = setup();
    a.dq.publish(SIZE);
    expect(() => a.vq.pop()).toThrow(/out of range/);
    const b = setup();
    b.dq.writeDesc(0, 0x10000, 8, VIRTQ_DESC_F_NEXT, 0xffff);
    b.dq.publish(0);
    expect(() => b.vq.pop()).toThrow(/out of range/);
    const c = setup();
    c.dq.writeDesc(0, RAM - 4, 8, 0, 0); // straddles the end of RAM
    c.dq.publish(0);
    expect(() => c.vq.pop()).toThrow(/not in guest memory/);
    const d = setup();
    d.dq.writeDesc(0, 0xffff_ffff_ffff_f000n, 16, 0, 0);
    d.dq.publish(0);
    expect(() => d.vq.pop()).toThrow(VirtqueueError);
  });

  it('refuses a readable buffer after a writable one', () => {
    const { dq, vq } = setup();
    dq.add([
      { gpa: 0x10000, len: 8, write: true },
      { gpa: 0x20000, len: 8 },
    ]);
    expect(() => vq.pop()).toThrow(/readable buffer after a writable/);
  });

  it('refuses an avail index that runs ahead of the queue size', () => {
    const { mem, dq, vq } = setup();
    mem.writeU16(dq.avail + 2, SIZE + 1);
    expect(() => vq.pop()).toThrow(/ahead/);
  });

  it('follows an indirect table only when negotiated, not nested and not chained', () => {
    const table = 0x40000;
    const build = (indirect: boolean, flags = VIRTQ_DESC_F_INDIRECT, len = 32) => {
      const s = setup({ indirect });
      s.mem.writeU64(table, 0x10000n);
      s.mem.writeU32(table + 8, 16);
      s.mem.writeU16(table + 12, VIRTQ_DESC_F_NEXT);
      s.mem.writeU16(table + 14, 1);
      s.mem.writeU64(table + 16, 0x20000n);
      s.mem.writeU32(table + 24, 1);
      s.mem.writeU16(table + 28, VIRTQ_DESC_F_WRITE);
      s.dq.writeDesc(0, table, len, flags, 0);
      s.dq.publish(0);
      return s;
    };
    const ok = build(true).vq.pop()!;
    expect(ok.readableBytes).toBe(16);
    expect(ok.writableBytes).toBe(1);
    expect(() => build(false).vq.pop()).toThrow(/without VIRTIO_F_INDIRECT_DESC/);
    expect(() => build(true, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT).vq.pop()).toThrow(/with NEXT/);
    expect(() => build(true, VIRTQ_DESC_F_INDIRECT, 20).vq.pop()).toThrow(/indirect table length/);
    expect(() => build(true, VIRTQ_DESC_F_INDIRECT, 0).vq.pop()).toThrow(/indirect table length/);
    // nested: the table's first entry is itself indirect
    const n = build(true);
    n.mem.writeU16(table + 12, VIRTQ_DESC_F_INDIRECT);
    expect(() => n.vq.pop()).toThrow(/nested/);
    // a loop inside the table
    const l = build(true);
    l.mem.writeU16(table + 28, VIRTQ_DESC_F_NEXT);
    l.mem.writeU16(table + 30, 0);
    expect(() => l.vq.pop()).toThrow(/loops/);
  });

  it('honours NO_INTERRUPT without EVENT_IDX', () => {
    const { mem, dq, vq } = setup();
    dq.add([{ gpa: 0x10000, len: 1, write: true }]);
    vq.push(vq.pop()!.head, 1);
    expect(vq.needsNotify()).toBe(true);
    mem.writeU16(dq.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
    dq.add([{ gpa: 0x10000, len: 1, write: true }]);
    vq.push(vq.pop()!.head, 1);
    expect(vq.needsNotify()).toBe(false);
  });

  it('uses used_event and publishes avail_event with EVENT_IDX', () => {
    const { mem, dq, vq } = setup({ eventIdx: true });
    const usedEventAt = dq.avail + 4 + 2 * SIZE;
    const availEventAt = dq.used + 4 + 8 * SIZE;
    for (let i = 0; i < 3; i++) dq.add([{ gpa: 0x10000, len: 1, write: true }]);
    mem.writeU16(usedEventAt, 0); // interrupt when used idx passes 0
    vq.push(vq.pop()!.head, 1);
    expect(mem.readU16(availEventAt)).toBe(1);
    expect(vq.needsNotify()).toBe(true);
    vq.push(vq.pop()!.head, 1);
    expect(vq.needsNotify()).toBe(false); // used_event still 0: already signalled past it
    mem.writeU16(usedEventAt, 2);
    vq.push(vq.pop()!.head, 1);
    expect(vq.needsNotify()).toBe(true);
  });

  it('validates its configuration', () => {
    const mem = GuestMemory.anonymous(pcLayout(RAM));
    const v = mem.view(0x1000, 0x1000);
    const base = { desc: v, avail: v, used: v, memory: { slice: () => undefined }, indirect: false, eventIdx: false };
    expect(() => new SplitVirtqueue({ ...base, size: 3 })).toThrow(/power of two/);
    expect(() => new SplitVirtqueue({ ...base, size: 65536 })).toThrow(/power of two/);
    expect(() => new SplitVirtqueue({ ...base, size: 512 })).toThrow(/smaller/);
  });
});
