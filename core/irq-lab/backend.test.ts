import { describe, expect, it } from 'vitest';
import { CREDIT_EVERY, IrqLabBackend, RAISES_PER_SLICE, type BackendOps } from './backend.js';
import { PROTOCOL_VERSION, type Command, type CreditReply } from './protocol.js';
import { bucketLowerUs, bucketOf, HISTOGRAM_BUCKETS, LatencyTracker } from './latency.js';
import { RaiseKind } from './regs.js';

function rig(msixVectors = 8, intx = true) {
  const signals = new Map<number, number>();
  const closed: number[] = [];
  const deferred: (() => void)[] = [];
  const watched = new Map<number, (n: number) => void>();
  let t = 0;
  const page = new Uint8Array(new SharedArrayBuffer(8192));
  const ops: BackendOps = {
    signal: (fd) => (signals.set(fd, (signals.get(fd) ?? 0) + 1), true),
    close: (fd) => void closed.push(fd),
    now: () => (t += 1000),
    watch: (fd, cb) => void watched.set(fd, cb),
    unwatch: (fd) => void watched.delete(fd),
    mapMemory: (_r, fds) => (fds.forEach((f) => closed.push(f)), { slice: (gpa, len) => (gpa + len <= page.length ? page.subarray(gpa, gpa + len) : undefined), unmap: () => {} }),
    defer: (fn) => void deferred.push(fn),
  };
  const replies: unknown[] = [];
  const credits: CreditReply[] = [];
  const b = new IrqLabBackend(ops, { readyAck: (v) => replies.push(['ready', v]), stats: (s) => replies.push(s), credit: (c) => credits.push(c) });
  const h = (c: Command) => b.handle(c);
  h({ op: 'setup', version: PROTOCOL_VERSION, msixVectors, msiVectors: 2, intx });
  h({ op: 'msix-fds', first: 0, fds: Array.from({ length: msixVectors }, (_, i) => 100 + i) });
  h({ op: 'msi-fds', first: 0, fds: [200, 201] });
  if (intx) h({ op: 'intx-fds', trigger: 300, resample: 301 });
  h({ op: 'mem-table', regions: [{ guestAddr: 0n, size: 8192n, userAddr: 0n, mmapOffset: 0n }], fds: [400] });
  h({ op: 'ready' });
  const drain = () => {
    while (deferred.length) deferred.shift()!();
  };
  drain();
  credits.length = 0; // setup's own credits
  return { b, h, signals, closed, watched, replies, page, drain, credits };
}

describe('irq-lab device process model', () => {
  it('raises MSI-X and MSI vectors by writing their eventfds', () => {
    const { b, h, signals, replies } = rig();
    expect(replies).toEqual([['ready', PROTOCOL_VERSION]]);
    h({ op: 'fire', kind: RaiseKind.msix, vector: 3 });
    h({ op: 'fire', kind: RaiseKind.msi, vector: 1 });
    h({ op: 'fire-range', kind: RaiseKind.msix, first: 5, last: 7 });
    expect([...signals]).toEqual([[103, 1], [201, 1], [105, 1], [106, 1], [107, 1]]);
    expect(b.stats.fired).toBe(5);
  });

  it('runs a burst in slices and keeps later raises behind it', () => {
    const { b, h, signals, drain } = rig();
    h({ op: 'burst', kind: RaiseKind.msix, vector: 0, count: RAISES_PER_SLICE * 2 + 5 });
    h({ op: 'fire', kind: RaiseKind.msix, vector: 1 });
    expect(signals.get(100)).toBe(RAISES_PER_SLICE);
    expect(signals.get(101)).toBeUndefined();
    expect(b.queuedRaises).toBe(RAISES_PER_SLICE + 6);
    drain();
    expect(signals.get(100)).toBe(RAISES_PER_SLICE * 2 + 5);
    expect(signals.get(101)).toBe(1);
  });

  it('bumps the sequence page before each raise and pairs ACKs into the histogram', () => {
    const { b, h, page } = rig();
    h({ op: 'seq-page', gpa: 4096 });
    h({ op: 'fire', kind: RaiseKind.msix, vector: 2 });
    h({ op: 'fire', kind: RaiseKind.msix, vector: 2 });
    const seq = new Int32Array(page.buffer, 4096, 1024);
    expect(seq[2]).toBe(2);
    h({ op: 'ack', vector: 2 });
    h({ op: 'ack', vector: 2 });
    h({ op: 'ack', vector: 2 }); // nothing left to pair
    const s = b.snapshot();
    expect(s).toMatchObject({ acked: 3, paired: 2, unpaired: 1 });
    expect(s.buckets.reduce((a, n) => a + n, 0)).toBe(2);
  });

  it('drives INTx as level work: re-signals on resample while items are outstanding', () => {
    const { b, h, signals, watched } = rig();
    const resample = () => watched.get(301)!(1);
    h({ op: 'intx-auto', items: 2 });
    expect(signals.get(300)).toBe(1);
    resample();
    expect(signals.get(300)).toBe(2); // still 2 items
    h({ op: 'ack-intx' });
    resample();
    expect(signals.get(300)).toBe(3);
    h({ op: 'ack-intx' });
    resample();
    expect(signals.get(300)).toBe(3); // done: the line stays low
    h({ op: 'fire', kind: RaiseKind.intx, vector: 0 }); // a pulse ends at the next resample
    expect(signals.get(300)).toBe(4);
    resample();
    expect(signals.get(300)).toBe(4);
    expect(b.intxAsserted).toBe(false);
  });

  it('returns credits: commands once finished (a burst at its last raise), raises as performed', () => {
    const { h, credits, drain } = rig();
    const setupCommands = 6; // setup, msix-fds, msi-fds, intx-fds, mem-table, ready
    h({ op: 'burst', kind: RaiseKind.msix, vector: 0, count: RAISES_PER_SLICE + 10 });
    h({ op: 'ack', vector: 0 });
    expect(credits).toEqual([]); // one per turn, at its end
    drain(); // the turn ends: the ACK is done, the burst is not; the burst's second slice runs
    expect(credits[0]).toEqual({ commands: setupCommands + 1, raises: RAISES_PER_SLICE });
    expect(credits.at(-1)).toEqual({ commands: setupCommands + 2, raises: RAISES_PER_SLICE + 10 });
    credits.length = 0;
    for (let i = 0; i < CREDIT_EVERY * 2; i++) h({ op: 'ack', vector: 1 });
    expect(credits).toHaveLength(2); // every CREDIT_EVERY commands without waiting for the turn
    drain();
    expect(credits).toHaveLength(2); // nothing new to report
  });

  it('keeps SEQ_PAGE in order with queued raises (a barrier)', () => {
    const { h, page, drain } = rig();
    const seq = new Int32Array(page.buffer, 4096, 1024);
    h({ op: 'seq-page', gpa: 4096 });
    h({ op: 'burst', kind: RaiseKind.msix, vector: 2, count: RAISES_PER_SLICE + 3 });
    h({ op: 'seq-page', gpa: 0 }); // disarm: only raises asked for after it skip the page
    h({ op: 'fire', kind: RaiseKind.msix, vector: 2 });
    drain();
    expect(seq[2]).toBe(RAISES_PER_SLICE + 3);
  });

  it('refuses hostile commands and closes the fds they carried', () => {
    const { h, closed } = rig(4, false);
    expect(() => h({ op: 'fire', kind: RaiseKind.msix, vector: 4 })).toThrow(/beyond the 4 MSI-X vectors/);
    expect(() => h({ op: 'fire', kind: RaiseKind.msi, vector: 2 })).toThrow(/beyond the 2 MSI vectors/);
    expect(() => h({ op: 'intx', level: true })).toThrow(/without INTx/);
    expect(() => h({ op: 'msix-fds', first: 3, fds: [900, 901] })).toThrow(/beyond 4/);
    expect(closed).toContain(900);
    expect(() => h({ op: 'intx-fds', trigger: 910, resample: 911 })).toThrow(/without INTx/);
    expect(closed).toEqual(expect.arrayContaining([910, 911]));
    expect(() => h({ op: 'seq-page', gpa: 0x100000 })).toThrow(/not in guest RAM/);
    expect(() => h({ op: 'setup', version: PROTOCOL_VERSION, msixVectors: 1, msiVectors: 0, intx: false })).toThrow(/twice/);
    const fresh = new IrqLabBackend({} as BackendOps, { readyAck: () => {}, stats: () => {}, credit: () => {} });
    expect(() => fresh.handle({ op: 'fire', kind: RaiseKind.msix, vector: 0 })).toThrow(/before SETUP/);
  });
});

describe('latency histogram', () => {
  it('uses 1 us buckets below 64 us and log2 buckets above', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(63_999)).toBe(63);
    expect(bucketOf(64_000)).toBe(64);
    expect(bucketOf(127_999)).toBe(64);
    expect(bucketOf(128_000)).toBe(65);
    expect(bucketOf(1e15)).toBe(HISTOGRAM_BUCKETS - 1);
    expect(bucketLowerUs(65)).toBe(128);
  });

  it('pairs each ACK with the oldest raise and drops the oldest on overflow', () => {
    const l = new LatencyTracker(2);
    l.raised(1, 0);
    l.raised(1, 10_000);
    l.acked(1, 20_000); // pairs with t=0: 20 us
    expect(l.buckets[20]).toBe(1);
    for (let i = 0; i < 2000; i++) l.raised(0, i);
    expect(l.dropped).toBeGreaterThan(0);
  });
});
