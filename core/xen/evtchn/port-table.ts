// The shared event-channel port table: one fixed-size SharedArrayBuffer holding a header,
// the VIRQ→port and PIRQ→port maps and one Int32 row per port. The VM host thread builds
// it (PortTable.create) and owns its *structure*; vCPU worker threads open the same buffer
// (PortTable.attach) to read rows on the fast path (send, unmask, VIRQ/PIRQ raise).
//
// Threading / locking rules:
//  - Structure words (STATE, VCPU, ARG, DOM, PRIO, the VIRQ/PIRQ maps, the header) are
//    written only by the host thread, via publish()/update()/free()/set*Map().
//  - Every structural write to a row is bracketed by a per-row sequence word (seqlock:
//    odd while changing) and the STATE word is stored last, so a row is published only
//    after all its fields are written. read() retries until it sees a stable, even
//    sequence, so a reader never acts on a half-built port.
//  - Runtime words may be written by any thread: LASTQ (FIFO last queue; only while
//    holding the queue locks, see fifo.ts), SHADOW (FIFO pending shadow for ports not yet
//    backed by an event-array page) and the per-port counters (Atomics.add).
//
// Sizes: 2-level 64-bit guests have 4096 ports, 32-bit guests 1024 (EVTCHN_2L_NR_CHANNELS,
// xen-hvm-interfaces.md §2); FIFO up to 2^17 = 131072 (EVTCHN_FIFO_LINK_BITS 17, §4).
// The buffer is sized once for `capacity` ports (default: the FIFO maximum, 8 MiB); the
// ABI's current limit is the header's LIMIT word.

/** Port states; 0..5 are the EVTCHNSTAT_* values of EVTCHNOP_status (§5). */
export const PortState = {
  FREE: 0,
  UNBOUND: 1,
  INTERDOMAIN: 2,
  PIRQ: 3,
  VIRQ: 4,
  IPI: 5,
  /** Port 0 (Xen's ECS_RESERVED); reported as closed by EVTCHNOP_status. */
  RESERVED: 6,
} as const;
export type PortStateValue = (typeof PortState)[keyof typeof PortState];
export const PORT_STATE_NAMES = ['free', 'unbound', 'interdomain', 'pirq', 'virq', 'ipi', 'reserved'] as const;

/** EVTCHN_2L_NR_CHANNELS for 64-bit (64×64) and 32-bit (32×32) guests (§2). */
export const NR_2L_PORTS_64 = 4096;
export const NR_2L_PORTS_32 = 1024;
/** 1 << EVTCHN_FIFO_LINK_BITS (17) (§4). */
export const NR_FIFO_PORTS = 1 << 17;
/** NR_VIRQS (public/xen.h, §5). */
export const NR_VIRQS = 24;
/** EVTCHN_FIFO_PRIORITY_DEFAULT (§4). */
export const PRIORITY_DEFAULT = 7;

/** Row layout (Int32 words). */
export const F = {
  SEQ: 0,
  STATE: 1,
  VCPU: 2,
  /** remote port (interdomain) / VIRQ number / PIRQ number. */
  ARG: 3,
  /** remote domid (unbound, interdomain) or bind_pirq flags. */
  DOM: 4,
  PRIO: 5,
  /** FIFO last queue: (vcpu << 4) | priority. Runtime, written under the queue locks. */
  LASTQ: 6,
  /** FIFO pending shadow for a port beyond the event array. Runtime. */
  SHADOW: 7,
  SENDS: 8,
  DELIVERIES: 9,
  COALESCED: 10,
  MASKED: 11,
  UPCALLS: 12,
} as const;
export const ROW_WORDS = 16;

const H = { MAGIC: 0, CAPACITY: 1, NR_VCPUS: 2, NR_PIRQS: 3, ABI: 4, LIMIT: 5, OWN_DOMID: 6 } as const;
const HEADER_WORDS = 16;
const MAGIC = 0x58455643; // 'XEVC'

export const ABI_2L = 0;
export const ABI_FIFO = 1;

export type CounterField = typeof F.SENDS | typeof F.DELIVERIES | typeof F.COALESCED | typeof F.MASKED | typeof F.UPCALLS;

/** A consistent snapshot of one row's structure. */
export interface PortRow {
  state: number;
  vcpu: number;
  arg: number;
  dom: number;
  priority: number;
}

export interface PortTableOptions {
  nrVcpus: number;
  nrPirqs: number;
  ownDomid: number;
  capacity?: number;
}

export class PortTable {
  readonly words: Int32Array;
  readonly capacity: number;
  readonly nrVcpus: number;
  readonly nrPirqs: number;
  private readonly virqBase: number;
  private readonly pirqBase: number;
  private readonly rowBase: number;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
    const w = this.words;
    if (w[H.MAGIC] !== MAGIC) throw new RangeError('not an event-channel port table buffer');
    this.capacity = w[H.CAPACITY]!;
    this.nrVcpus = w[H.NR_VCPUS]!;
    this.nrPirqs = w[H.NR_PIRQS]!;
    this.virqBase = HEADER_WORDS;
    this.pirqBase = this.virqBase + this.nrVcpus * NR_VIRQS;
    this.rowBase = this.pirqBase + this.nrPirqs;
  }

  /** Host thread: a new, empty table (port 0 reserved, 2-level 64-bit limit). */
  static create(o: PortTableOptions): PortTable {
    const capacity = o.capacity ?? NR_FIFO_PORTS;
    if (!(capacity >= NR_2L_PORTS_64 && capacity <= NR_FIFO_PORTS)) throw new RangeError(`bad port capacity ${capacity}`);
    const words = HEADER_WORDS + o.nrVcpus * NR_VIRQS + o.nrPirqs + capacity * ROW_WORDS;
    const buffer = new SharedArrayBuffer(words * 4);
    const w = new Int32Array(buffer);
    w[H.CAPACITY] = capacity;
    w[H.NR_VCPUS] = o.nrVcpus;
    w[H.NR_PIRQS] = o.nrPirqs;
    w[H.LIMIT] = NR_2L_PORTS_64;
    w[H.OWN_DOMID] = o.ownDomid;
    Atomics.store(w, H.MAGIC, MAGIC);
    const t = new PortTable(buffer);
    t.resetAll();
    return t;
  }

  /** Any thread: open a table created elsewhere. */
  static attach(buffer: SharedArrayBuffer): PortTable {
    return new PortTable(buffer);
  }

  get ownDomid(): number {
    return this.words[H.OWN_DOMID]!;
  }
  get abi(): number {
    return Atomics.load(this.words, H.ABI);
  }
  /** Number of usable ports under the current ABI (4096/1024 for 2L, capacity for FIFO). */
  get limit(): number {
    return Atomics.load(this.words, H.LIMIT);
  }
  /** Host thread only. */
  setAbi(abi: number, limit: number): void {
    Atomics.store(this.words, H.LIMIT, Math.min(limit, this.capacity));
    Atomics.store(this.words, H.ABI, abi);
  }

  /** True for 1 <= port < limit (port 0 is reserved). */
  valid(port: number): boolean {
    return Number.isInteger(port) && port >= 0 && port < this.limit;
  }

  private base(port: number): number {
    return this.rowBase + port * ROW_WORDS;
  }

  /** Current state word (no consistency with the other fields). */
  state(port: number): number {
    if (!(port >= 0 && port < this.capacity)) return PortState.FREE;
    return Atomics.load(this.words, this.base(port) + F.STATE);
  }

  /** A consistent snapshot of a row (seqlock read). Out-of-range ports read as FREE. */
  read(port: number): PortRow {
    if (!(Number.isInteger(port) && port >= 0 && port < this.capacity)) return { state: PortState.FREE, vcpu: 0, arg: 0, dom: 0, priority: 0 };
    const w = this.words;
    const b = this.base(port);
    for (;;) {
      const s1 = Atomics.load(w, b + F.SEQ);
      if (s1 & 1) continue; // host thread is mid-write (a few stores, never blocks)
      const row = {
        state: Atomics.load(w, b + F.STATE),
        vcpu: Atomics.load(w, b + F.VCPU),
        arg: Atomics.load(w, b + F.ARG),
        dom: Atomics.load(w, b + F.DOM),
        priority: Atomics.load(w, b + F.PRIO),
      };
      if (Atomics.load(w, b + F.SEQ) === s1) return row;
    }
  }

  /** Host thread: write every structural field of a row, publishing the state word last. */
  publish(port: number, row: PortRow): void {
    const w = this.words;
    const b = this.base(port);
    Atomics.add(w, b + F.SEQ, 1);
    Atomics.store(w, b + F.VCPU, row.vcpu);
    Atomics.store(w, b + F.ARG, row.arg);
    Atomics.store(w, b + F.DOM, row.dom);
    Atomics.store(w, b + F.PRIO, row.priority);
    Atomics.store(w, b + F.STATE, row.state);
    Atomics.add(w, b + F.SEQ, 1);
  }

  /** Host thread: change some structural fields of a published row. */
  update(port: number, change: Partial<PortRow>): void {
    this.publish(port, { ...this.read(port), ...change });
  }

  /** Host thread: return a port to FREE (state first, so readers stop using it). */
  free(port: number): void {
    this.publish(port, { state: PortState.FREE, vcpu: 0, arg: 0, dom: 0, priority: PRIORITY_DEFAULT });
    Atomics.store(this.words, this.base(port) + F.SHADOW, 0);
  }

  /** Host thread: lowest FREE port in [1, limit) for which `usable` holds, or -1. */
  findFree(usable: (port: number) => boolean = () => true): number {
    const lim = this.limit;
    for (let p = 1; p < lim; p++) {
      if (this.state(p) === PortState.FREE && usable(p)) return p;
    }
    return -1;
  }

  /** Host thread: every row free, port 0 reserved, maps cleared, 2L ABI. Counters are kept. */
  resetAll(): void {
    for (let p = 0; p < this.capacity; p++) {
      if (this.state(p) !== PortState.FREE || p === 0) this.free(p);
      Atomics.store(this.words, this.base(p) + F.LASTQ, PRIORITY_DEFAULT);
    }
    this.publish(0, { state: PortState.RESERVED, vcpu: 0, arg: 0, dom: 0, priority: PRIORITY_DEFAULT });
    this.words.fill(0, this.virqBase, this.rowBase);
    this.setAbi(ABI_2L, NR_2L_PORTS_64);
  }

  /** Ports bound to VIRQs: per-vCPU VIRQs at (vcpu, virq); global ones at (0, virq). */
  virqPort(vcpu: number, virq: number): number {
    if (!(vcpu >= 0 && vcpu < this.nrVcpus && virq >= 0 && virq < NR_VIRQS)) return 0;
    return Atomics.load(this.words, this.virqBase + vcpu * NR_VIRQS + virq);
  }
  setVirqPort(vcpu: number, virq: number, port: number): void {
    Atomics.store(this.words, this.virqBase + vcpu * NR_VIRQS + virq, port);
  }
  pirqPort(pirq: number): number {
    if (!(pirq >= 0 && pirq < this.nrPirqs)) return 0;
    return Atomics.load(this.words, this.pirqBase + pirq);
  }
  setPirqPort(pirq: number, port: number): void {
    Atomics.store(this.words, this.pirqBase + pirq, port);
  }

  // ---- runtime words (any thread) ----

  lastq(port: number): number {
    return Atomics.load(this.words, this.base(port) + F.LASTQ);
  }
  /** Only while holding the FIFO queue locks of the old and new queue. */
  setLastq(port: number, q: number): void {
    Atomics.store(this.words, this.base(port) + F.LASTQ, q);
  }
  /** Set the FIFO shadow-pending flag; returns its old value. */
  setShadow(port: number, v: 0 | 1): number {
    return Atomics.exchange(this.words, this.base(port) + F.SHADOW, v);
  }
  shadow(port: number): number {
    return Atomics.load(this.words, this.base(port) + F.SHADOW);
  }
  count(port: number, field: CounterField, n = 1): void {
    if (port >= 0 && port < this.capacity) Atomics.add(this.words, this.base(port) + field, n);
  }
  counter(port: number, field: CounterField): number {
    return Atomics.load(this.words, this.base(port) + field);
  }
  clearCounters(port: number): void {
    const b = this.base(port);
    for (const f of [F.SENDS, F.DELIVERIES, F.COALESCED, F.MASKED, F.UPCALLS]) Atomics.store(this.words, b + f, 0);
  }
}
