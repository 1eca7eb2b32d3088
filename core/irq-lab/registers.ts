// BAR0 of the irq-lab device, emulated in the VMM (docs/irq-lab.md, "BAR0: registers").
// Guest MMIO lands here on the VM host thread; the model validates every write, keeps the
// guest-visible state (burst count, sequence page address, INTx level, FIRED/ACKED) and
// turns doorbells into actions (the device object forwards them to the device process).
// Only aligned 4-byte accesses count; anything else reads 0 / is dropped, and values out
// of range are ignored; both are counted. FIRED counts raises as the VMM hands them to the
// device process (guest doorbells and host fires), ACKED the ACK writes, so the guest can
// read both without a round trip to the process.
import type { IoDevice } from '../bus/types.js';
import {
  BAR0_SIZE, BURST_MAX, BURST_MIN, INTX_AUTO_MAX, IRQ_LAB_MAGIC, IRQ_LAB_VERSION, REG, SEQ_PAGE_SIZE,
} from './regs.js';

const ACCESS_SIZE = 4;
const TWO_32 = 2 ** 32;
const RANGE_FIELD_MASK = 0xffff;

/** What doorbell writes do (the device object implements these). */
export interface RegisterActions {
  fire(vector: number): void;
  burst(vector: number, count: number): void;
  fireRange(first: number, last: number): void;
  intx(level: boolean): void;
  intxAuto(items: number): void;
  ackIntx(): void;
  ack(vector: number): void;
  /** Arm (gpa) or disarm (0) the sequence page. */
  seqPage(gpa: number): void;
  /** True when [gpa, gpa + 4 KiB) lies in guest RAM. */
  isRam(gpa: number): boolean;
}

export interface RegisterCounters {
  reads: number;
  writes: number;
  /** Accesses that were not aligned 4-byte ones, or beyond the registers. */
  badAccesses: number;
  /** Writes with a value out of range, a vector beyond NUM_VECTORS, or to a read-only register. */
  badWrites: number;
}

export class IrqLabRegisters implements IoDevice {
  readonly name = 'irq-lab-regs';
  private burstCount = BURST_MIN;
  private seqLo = 0;
  private seqHi = 0;
  private intxManual = false;
  private intxAuto = 0;
  private fired = 0;
  private acked = 0;
  readonly stats: RegisterCounters = { reads: 0, writes: 0, badAccesses: 0, badWrites: 0 };

  constructor(
    readonly numVectors: number,
    readonly features: number,
    private readonly actions: RegisterActions,
  ) {}

  /** The INTx level the guest sees at INTX: asserted by INTX=1 or outstanding INTX_AUTO items. */
  get intxLevel(): boolean {
    return this.intxManual || this.intxAuto > 0;
  }
  get intxAutoItems(): number {
    return this.intxAuto;
  }
  get intxManualLevel(): boolean {
    return this.intxManual;
  }
  /** The armed sequence page address, or 0. */
  get seqPage(): number {
    return this.seqHi * TWO_32 + this.seqLo;
  }
  get firedCount(): number {
    return this.fired;
  }
  get ackedCount(): number {
    return this.acked;
  }

  /** Raises done on the host's behalf (fireFromHost) count in FIRED too. */
  countFired(n: number): void {
    this.fired += n;
  }

  read(offset: number, size: number): number {
    this.stats.reads++;
    if (!this.valid(offset, size)) {
      this.stats.badAccesses++;
      return 0;
    }
    switch (offset) {
      case REG.id: return IRQ_LAB_MAGIC;
      case REG.version: return IRQ_LAB_VERSION;
      case REG.numVectors: return this.numVectors;
      case REG.features: return this.features;
      case REG.intx: return this.intxLevel ? 1 : 0;
      case REG.intxAuto: return Math.min(this.intxAuto, 0xffffffff);
      case REG.burstCount: return this.burstCount;
      case REG.seqBaseLo: return this.seqLo;
      case REG.seqBaseHi: return this.seqHi;
      case REG.firedLo: return this.fired % TWO_32;
      case REG.firedHi: return Math.floor(this.fired / TWO_32) >>> 0;
      case REG.ackedLo: return this.acked % TWO_32;
      case REG.ackedHi: return Math.floor(this.acked / TWO_32) >>> 0;
      default: return 0; // write-only and unused registers read 0
    }
  }

  write(offset: number, size: number, raw: number): void {
    this.stats.writes++;
    if (!this.valid(offset, size)) {
      this.stats.badAccesses++;
      return;
    }
    const v = Number.isFinite(raw) ? raw >>> 0 : 0;
    const a = this.actions;
    switch (offset) {
      case REG.intx:
        if (v > 1) return this.bad();
        this.intxManual = v === 1;
        return a.intx(this.intxManual);
      case REG.intxAuto:
        if (v < 1 || v > INTX_AUTO_MAX) return this.bad();
        this.intxAuto += v;
        return a.intxAuto(v);
      case REG.fire:
        if (!this.vectorOk(v)) return this.bad();
        this.fired++;
        return a.fire(v);
      case REG.burstCount:
        if (v < BURST_MIN || v > BURST_MAX) return this.bad();
        this.burstCount = v;
        return;
      case REG.burst:
        if (!this.vectorOk(v)) return this.bad();
        this.fired += this.burstCount;
        return a.burst(v, this.burstCount);
      case REG.fireRange: {
        const first = v & RANGE_FIELD_MASK;
        const last = v >>> 16;
        if (first > last || !this.vectorOk(last)) return this.bad();
        this.fired += last - first + 1;
        return a.fireRange(first, last);
      }
      case REG.seqBaseLo:
        if (v % SEQ_PAGE_SIZE !== 0) return this.bad();
        this.seqLo = v;
        return;
      case REG.seqBaseHi: {
        const gpa = v * TWO_32 + this.seqLo;
        if (gpa !== 0 && !a.isRam(gpa)) {
          this.seqHi = 0;
          this.seqLo = 0;
          a.seqPage(0);
          return this.bad();
        }
        this.seqHi = v;
        return a.seqPage(gpa);
      }
      case REG.ack:
        if (!this.vectorOk(v)) return this.bad();
        this.acked++;
        return a.ack(v);
      case REG.ackIntx:
        if (this.intxAuto > 0) this.intxAuto--;
        return a.ackIntx();
      default:
        return this.bad(); // read-only or unused
    }
  }

  /** Device reset: back to power-on values (counters keep counting). */
  reset(): void {
    this.burstCount = BURST_MIN;
    this.seqLo = this.seqHi = 0;
    this.intxManual = false;
    this.intxAuto = 0;
  }

  private vectorOk(v: number): boolean {
    return v < this.numVectors;
  }

  private valid(offset: number, size: number): boolean {
    return size === ACCESS_SIZE && Number.isInteger(offset) && offset >= 0 && offset % ACCESS_SIZE === 0 && offset + size <= BAR0_SIZE;
  }

  private bad(): void {
    this.stats.badWrites++;
  }
}
