// CommandFlow against a fake link: what goes at once, what waits and how (coalesced, capped,
// in which order), and that every requested raise is either sent or counted as dropped.
import { describe, expect, it } from 'vitest';
import { CONTROL_RESERVE, CommandFlow, MAX_SEGMENTS, QUEUED_ACKS_MAX, QUEUED_RAISES_MAX, RAISE_BUDGET, WINDOW, type IntxLevel } from './flow.js';
import { raisesOf, type Command } from './protocol.js';
import { BURST_MAX, RaiseKind } from './regs.js';

const RAISE_SLOTS = WINDOW - CONTROL_RESERVE;

/** A link that takes everything and finishes commands when told (oldest first). */
function rig(intx: IntxLevel = { manual: false, auto: 0 }) {
  const sent: Command[] = [];
  let done = 0;
  let raisesDone = 0;
  let up = true;
  const level = { ...intx };
  const flow = new CommandFlow({
    inFlight: () => sent.length - done,
    raisesInFlight: () => sent.reduce((n, c) => n + raisesOf(c), 0) - raisesDone,
    send: (c) => up && (sent.push(c), true),
  }, () => level);
  /** The process finishes `n` more commands (all of them by default) and sends a CREDIT. */
  const credit = (n = sent.length - done) => {
    for (let i = 0; i < n; i++) raisesDone += raisesOf(sent[done++]!);
    flow.flush();
  };
  /** Raises the process performed for each (kind, vector), from what was sent. */
  const raised = () => {
    const m = new Map<string, number>();
    for (const c of sent) {
      if (c.op === 'fire' || c.op === 'burst') m.set(`${c.kind}:${c.vector}`, (m.get(`${c.kind}:${c.vector}`) ?? 0) + raisesOf(c));
      if (c.op === 'fire-range') for (let v = c.first; v <= c.last; v++) m.set(`${c.kind}:${v}`, (m.get(`${c.kind}:${v}`) ?? 0) + 1);
    }
    return m;
  };
  const ops = () => sent.map((c) => c.op);
  return { flow, sent, credit, raised, ops, level, down: () => (up = false) };
}

describe('irq-lab flow control', () => {
  it('sends at once while the window has room, then coalesces raises per vector and flushes on credit', () => {
    const r = rig();
    for (let i = 0; i < RAISE_SLOTS; i++) r.flow.raise(RaiseKind.msix, 3, 10);
    expect(r.sent).toHaveLength(RAISE_SLOTS);
    for (let i = 0; i < 100; i++) r.flow.raise(RaiseKind.msix, 3, 10); // BURSTs add up
    r.flow.raise(RaiseKind.msix, 4, 1);
    r.flow.raiseRange(RaiseKind.msix, 3, 5); // expands into per-vector counts
    expect(r.sent).toHaveLength(RAISE_SLOTS);
    expect(r.flow.queuedRaises).toBe(1000 + 1 + 3);
    expect(r.flow.counters.coalesced).toBe(99 + 1 + 1); // merged into an existing count
    r.credit();
    expect(r.flow.queuedRaises).toBe(0);
    expect(r.sent.slice(RAISE_SLOTS)).toEqual([
      { op: 'burst', kind: RaiseKind.msix, vector: 3, count: 1001 },
      { op: 'burst', kind: RaiseKind.msix, vector: 4, count: 2 },
      { op: 'fire', kind: RaiseKind.msix, vector: 5 },
    ]);
    expect(r.raised().get('0:3')).toBe(RAISE_SLOTS * 10 + 1001);
    expect(r.flow.idle).toBe(true);
  });

  it('keeps the raise budget: a big burst goes out in pieces as raises are performed', () => {
    const r = rig();
    r.flow.raise(RaiseKind.msix, 0, BURST_MAX);
    r.flow.raise(RaiseKind.msix, 0, BURST_MAX);
    expect(r.sent).toEqual([{ op: 'burst', kind: RaiseKind.msix, vector: 0, count: RAISE_BUDGET }]);
    while (!r.flow.idle) r.credit();
    expect(r.raised().get('0:0')).toBe(2 * BURST_MAX);
    expect(r.sent.every((c) => raisesOf(c) <= RAISE_BUDGET)).toBe(true);
  });

  it('caps queued raises per vector: the excess is dropped and counted, never silently lost', () => {
    const r = rig();
    for (let i = 0; i < RAISE_SLOTS; i++) r.flow.raise(RaiseKind.msix, 1, 1);
    let asked = RAISE_SLOTS;
    for (let i = 0; i < 10; i++) {
      r.flow.raise(RaiseKind.msix, 1, BURST_MAX);
      asked += BURST_MAX;
    }
    expect(r.flow.queuedRaises).toBe(QUEUED_RAISES_MAX);
    expect(r.flow.counters.droppedRaises).toBe(asked - RAISE_SLOTS - QUEUED_RAISES_MAX);
    while (!r.flow.idle) r.credit();
    expect(r.raised().get('0:1')).toBe(asked - r.flow.counters.droppedRaises);
  });

  it('lets ACKs overtake queued raises (they answer raises already performed), within the reserve', () => {
    const r = rig();
    for (let i = 0; i < RAISE_SLOTS + 5; i++) r.flow.raise(RaiseKind.msix, 2, 1);
    r.flow.ack(2);
    expect(r.sent.at(-1)).toEqual({ op: 'ack', vector: 2 }); // the reserve: no wait behind the backlog
    for (let i = 0; i < CONTROL_RESERVE + 3; i++) r.flow.ack(7);
    expect(r.sent).toHaveLength(WINDOW);
    expect(r.flow.queuedAcks).toBe(4);
    r.credit(30);
    // Queued ACKs first, then the queued raises (as one coalesced count).
    expect(r.ops().slice(WINDOW)).toEqual(['ack', 'ack', 'ack', 'ack', 'burst']);
  });

  it('counts ACKs over the per-vector cap as dropped', () => {
    const r = rig();
    for (let i = 0; i < WINDOW; i++) r.flow.ack(0);
    for (let i = 0; i < QUEUED_ACKS_MAX + 5; i++) r.flow.ack(0);
    expect(r.flow.queuedAcks).toBe(QUEUED_ACKS_MAX);
    expect(r.flow.counters.droppedAcks).toBe(5);
  });

  it('keeps SEQ_PAGE as a barrier: raises before it and after it never cross it', () => {
    const r = rig();
    for (let i = 0; i < RAISE_SLOTS; i++) r.flow.raise(RaiseKind.msix, 0, 1);
    r.flow.raise(RaiseKind.msix, 1, 5);
    r.flow.seqPage(0x2000); // the window still has control room, but raises are queued before it
    r.flow.raise(RaiseKind.msix, 1, 7);
    r.flow.seqPage(0);
    r.flow.seqPage(0x3000); // nothing between the two: the newer page wins
    r.flow.raise(RaiseKind.msix, 1, 2);
    expect(r.sent).toHaveLength(RAISE_SLOTS);
    r.credit();
    r.credit();
    expect(r.sent.slice(RAISE_SLOTS)).toEqual([
      { op: 'burst', kind: RaiseKind.msix, vector: 1, count: 5 },
      { op: 'seq-page', gpa: 0x2000 },
      { op: 'burst', kind: RaiseKind.msix, vector: 1, count: 7 },
      { op: 'seq-page', gpa: 0x3000 },
      { op: 'burst', kind: RaiseKind.msix, vector: 1, count: 2 },
    ]);
  });

  it('bounds pending SEQ_PAGE barriers: the newest replaces the last, its raises are counted as dropped', () => {
    const r = rig();
    for (let i = 0; i < RAISE_SLOTS; i++) r.flow.raise(RaiseKind.msix, 0, 1);
    for (let i = 0; i < MAX_SEGMENTS + 3; i++) {
      r.flow.raise(RaiseKind.msix, 1, 1);
      r.flow.seqPage(0x1000 * (i + 1));
    }
    expect(r.flow.counters.collapsedSeqPages).toBeGreaterThan(0);
    while (!r.flow.idle) r.credit();
    const sentRaises = r.raised().get('0:1') ?? 0;
    expect(sentRaises + r.flow.counters.droppedRaises).toBe(MAX_SEGMENTS + 3);
    expect(r.sent.filter((c) => c.op === 'seq-page').at(-1)).toEqual({ op: 'seq-page', gpa: 0x1000 * (MAX_SEGMENTS + 3) });
  });

  it('syncs INTx as a level: sent at once, collapsed while the window is full, rises before falls', () => {
    const r = rig();
    r.level.auto = 2;
    r.flow.intxChanged();
    r.level.auto = 1;
    r.flow.intxChanged();
    expect(r.sent).toEqual([{ op: 'intx-auto', items: 2 }, { op: 'ack-intx' }]);
    for (let i = r.sent.length; i < WINDOW; i++) r.flow.ack(0);
    // Window full: a burst of register writes collapses to the final level.
    r.level.auto = 0; // ACK_INTX
    r.flow.intxChanged();
    r.level.manual = true; // INTX=1
    r.flow.intxChanged();
    r.level.auto = 5; // INTX_AUTO 5
    r.flow.intxChanged();
    r.level.auto = 3; // two ACK_INTX
    r.flow.intxChanged();
    r.flow.ack(9); // waits behind the INTx sync
    r.credit();
    expect(r.sent.slice(WINDOW)).toEqual([
      { op: 'intx-auto', items: 2 }, // 1 -> 3, before anything falls
      { op: 'intx', level: true },
      { op: 'ack', vector: 9 },
    ]);
  });

  it('a raise never overtakes a control command queued before it', () => {
    const r = rig();
    for (let i = 0; i < WINDOW; i++) r.flow.ack(0);
    r.flow.ack(1);
    r.flow.raise(RaiseKind.msix, 0, 1);
    r.credit(1);
    expect(r.ops().slice(WINDOW)).toEqual(['ack']);
    r.credit();
    expect(r.ops().slice(WINDOW)).toEqual(['ack', 'fire']);
  });

  it('counts everything queued as dropped when the link goes down', () => {
    const r = rig();
    for (let i = 0; i < WINDOW; i++) r.flow.ack(0);
    r.flow.raise(RaiseKind.msi, 1, 50);
    r.flow.ack(3);
    r.down();
    r.flow.discard();
    expect(r.flow).toMatchObject({ queuedRaises: 0, queuedAcks: 0, idle: true });
    expect(r.flow.counters).toMatchObject({ droppedRaises: 50, droppedAcks: 1 });
    r.credit();
    r.flow.raise(RaiseKind.msi, 1, 1); // the sink refuses: counted as unsent
    expect(r.flow.counters.unsent).toBe(1);
  });
});
