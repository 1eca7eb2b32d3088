// Intel 8254 PIT at ports 0x40-0x43, used only with the split irqchip (in kernel mode KVM's
// own PIT runs). Counters are not ticked: each channel remembers when it (re)started and
// its count and output are computed from the injected clock at 1.193182 MHz. Channel 0's
// output drives IRQ 0 the way KVM's in-kernel PIT does, as a pulse (raise + lower) at each
// terminal count: one-shot in modes 0/1/4/5, periodic in modes 2/3 through the scheduler.
// Channel 2's gate and output are wired to port 0x61 (see port61.ts).
//
// BCD counting (control word bit 0) is accepted: counts are decoded from BCD (0 = 10000)
// for timing and counter reads/latches are BCD-encoded; invalid BCD digits simply weigh
// their nibble value. Modes 1 and 5 start counting when the count is loaded with the gate
// high (as QEMU/KVM do; on a real 8254 they wait for a gate rising edge, and channel 0's
// gate is tied high), and a gate rising edge retriggers them. Reloading a count in modes
// 2/3 restarts the period at once (QEMU/KVM), not at the end of the current period.
import type { IoDevice } from '../bus/types.js';
import { NullIrqLine, type IrqLine } from '../irq/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';
import { NS_PER_SEC, type Clock, type Scheduler, type TimerHandle } from './time.js';

export const PIT_FREQ_HZ = 1_193_182;
export const PIT_PORT_COUNT = 4;
const FREQ = BigInt(PIT_FREQ_HZ);
const CONTROL_PORT = 3;

// Control word (8254 datasheet, "Control Word Format").
const CW_SC_SHIFT = 6; // counter select; 3 = read-back command
const CW_SC_READ_BACK = 3;
const CW_RW_SHIFT = 4; // 0 = counter latch command
const RW_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD = 3;
const CW_MODE_SHIFT = 1;
const CW_BCD = 0x01;
// Read-back command ("Read-Back Command" section): bits are active low.
const RB_NO_COUNT = 0x20;
const RB_NO_STATUS = 0x10;
const RB_COUNTER0 = 0x02; // counter n selected by bit (1 + n)
// Status byte ("Status Byte" section).
const ST_OUTPUT = 0x80;
const ST_NULL_COUNT = 0x40;

/** KVM's min_timer_period_us default: periodic IRQ timers faster than this are clamped. */
export const PIT_DEFAULT_MIN_IRQ_PERIOD_NS = 200_000;

interface Channel {
  mode: number;
  rw: number;
  bcd: boolean;
  count: bigint; // N: 1..0x10000 (binary) or 1..10000 (BCD)
  loaded: boolean; // a full count was written since the control word
  nullCount: boolean;
  gate: boolean;
  triggered: boolean; // modes 1/5: a trigger started the one-shot
  running: boolean;
  startNs: bigint;
  baseTicks: bigint; // ticks counted before startNs (gate pauses)
  latch: number[]; // latched count bytes still to read
  status: number | null;
  readHigh: boolean;
  writeHigh: boolean;
  writeLow: number;
}

export interface Pit8254Options {
  name?: string;
  clock: Clock;
  /** Needed for IRQ 0; without it the counters still read correctly. */
  scheduler?: Scheduler;
  irq0?: IrqLine;
  minIrqPeriodNs?: number;
}

export interface Pit8254Stats {
  irqPulses: number;
  missedTicks: number; // periodic ticks coalesced because the timer fired late
  clampedPeriods: number; // periodic programs shorter than minIrqPeriodNs
  controlWrites: number;
  latches: number;
  badAccesses: number;
}

export class Pit8254 implements IoDevice {
  readonly name: string;
  readonly stats: Pit8254Stats = { irqPulses: 0, missedTicks: 0, clampedPeriods: 0, controlWrites: 0, latches: 0, badAccesses: 0 };
  private readonly clock: Clock;
  private readonly scheduler: Scheduler | undefined;
  private readonly irq0: IrqLine;
  private readonly minIrqPeriodNs: bigint;
  private readonly channels: Channel[] = [];
  private irqTimer: TimerHandle | null = null;

  constructor(options: Pit8254Options) {
    this.name = options.name ?? 'pit';
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.irq0 = options.irq0 ?? NullIrqLine;
    this.minIrqPeriodNs = BigInt(Math.max(0, Math.trunc(options.minIrqPeriodNs ?? PIT_DEFAULT_MIN_IRQ_PERIOD_NS)));
    this.reset();
  }

  /** Power-on: no channel counts until programmed (like KVM's PIT reset); gate 2 low. */
  reset(): void {
    this.irqTimer?.cancel();
    this.irqTimer = null;
    this.channels.length = 0;
    for (let i = 0; i < 3; i++) {
      this.channels.push({
        mode: 3, rw: RW_WORD, bcd: false, count: 0x10000n, loaded: false, nullCount: true, gate: i !== 2,
        triggered: false, running: false, startNs: 0n, baseTicks: 0n, latch: [], status: null,
        readHigh: false, writeHigh: false, writeLow: 0,
      });
    }
  }

  read(offset: number, size: number): number {
    const v = splitRead(offset, size, PIT_PORT_COUNT, (port) => (port === CONTROL_PORT ? 0 : this.readCounter(port)));
    if (v === null) {
      this.stats.badAccesses++;
      return floatingValue(size);
    }
    return v;
  }

  write(offset: number, size: number, value: number): void {
    const ok = splitWrite(offset, size, value, PIT_PORT_COUNT, (port, byte) =>
      port === CONTROL_PORT ? this.writeControl(byte) : this.writeCounter(port, byte),
    );
    if (!ok) this.stats.badAccesses++;
  }

  getGate(channel: number): boolean {
    return this.channels[channel]?.gate ?? false;
  }

  /** Gate input (only channel 2's is wired, to port 0x61 bit 0; 0 and 1 are tied high). */
  setGate(channel: number, level: boolean): void {
    const ch = this.channels[channel];
    if (!ch || ch.gate === level) return;
    ch.gate = level;
    if (!ch.loaded) return;
    const now = this.clock();
    if (ch.mode === 0 || ch.mode === 4) {
      if (level) this.resume(ch, now);
      else this.pause(ch, now);
    } else if (level) {
      this.start(ch, now); // modes 1/5 retrigger, modes 2/3 reload on a rising edge
    } else if (ch.mode === 2 || ch.mode === 3) {
      this.pause(ch, now); // counting stops and OUT is forced high
    }
    if (channel === 0) this.rearmIrq();
  }

  /** Output pin level of a channel now. */
  getOut(channel: number): boolean {
    const ch = this.channels[channel];
    return ch ? this.output(ch, this.clock()) : false;
  }

  // ---- counting model ---------------------------------------------------------------------

  private elapsed(ch: Channel, now: bigint): bigint {
    if (!ch.running || now < ch.startNs) return ch.baseTicks;
    return ch.baseTicks + ((now - ch.startNs) * FREQ) / NS_PER_SEC;
  }

  /** Clock time at which the channel will have counted `ticks` (it must be running). */
  private timeAtTicks(ch: Channel, ticks: bigint): bigint {
    return ch.startNs + ceilDiv((ticks - ch.baseTicks) * NS_PER_SEC, FREQ);
  }

  private start(ch: Channel, now: bigint): void {
    ch.baseTicks = 0n;
    ch.startNs = now;
    ch.running = true;
    ch.triggered = true;
  }

  private pause(ch: Channel, now: bigint): void {
    ch.baseTicks = this.elapsed(ch, now);
    ch.running = false;
  }

  private resume(ch: Channel, now: bigint): void {
    ch.startNs = now;
    ch.running = true;
  }

  private counterValue(ch: Channel, now: bigint): number {
    if (!ch.loaded) return Number(ch.count & 0xffffn);
    const d = this.elapsed(ch, now);
    const n = ch.count;
    const modulus = ch.bcd ? 10000n : 0x10000n;
    let v: bigint;
    if (ch.mode === 2) v = n - (d % n);
    else if (ch.mode === 3) v = n - ((2n * d) % n); // counts down by two (datasheet, mode 3)
    else v = mod(n - d, modulus);
    v %= modulus;
    return ch.bcd ? binToBcd(Number(v)) : Number(v);
  }

  private output(ch: Channel, now: bigint): boolean {
    if (!ch.loaded) return ch.mode !== 0; // mode 0 drives OUT low after the control word
    if ((ch.mode === 2 || ch.mode === 3) && !ch.gate) return true;
    if ((ch.mode === 1 || ch.mode === 5) && !ch.triggered) return true;
    const d = this.elapsed(ch, now);
    const n = ch.count;
    switch (ch.mode) {
      case 0:
      case 1:
        return d >= n; // low while counting, high at terminal count
      case 2:
        return n === 1n || d % n !== n - 1n; // low for the last clock of each period
      case 3:
        return d % n < (n + 1n) / 2n; // high for the first (larger) half
      default:
        return d !== n; // modes 4/5: one-clock low strobe at terminal count
    }
  }

  private statusByte(ch: Channel): number {
    return (
      (this.output(ch, this.clock()) ? ST_OUTPUT : 0) |
      (ch.nullCount ? ST_NULL_COUNT : 0) |
      (ch.rw << CW_RW_SHIFT) |
      (ch.mode << CW_MODE_SHIFT) |
      (ch.bcd ? CW_BCD : 0)
    );
  }

  // ---- register interface -------------------------------------------------------------------

  private writeControl(byte: number): void {
    this.stats.controlWrites++;
    const sc = byte >>> CW_SC_SHIFT;
    const rw = (byte >>> CW_RW_SHIFT) & 3;
    if (sc === CW_SC_READ_BACK) {
      for (let i = 0; i < 3; i++) {
        if (!(byte & (RB_COUNTER0 << i))) continue;
        const ch = this.channels[i]!;
        if (!(byte & RB_NO_COUNT)) this.latchCount(ch);
        if (!(byte & RB_NO_STATUS) && ch.status === null) ch.status = this.statusByte(ch);
      }
      return;
    }
    const ch = this.channels[sc]!;
    if (rw === RW_LATCH) {
      this.latchCount(ch);
      return;
    }
    // A control word resets the counter logic: counting stops until a new count arrives.
    let mode = (byte >>> CW_MODE_SHIFT) & 7;
    if (mode > 5) mode -= 4; // modes 6/7 are aliases of 2/3 (X10, X11)
    Object.assign(ch, {
      rw, mode, bcd: (byte & CW_BCD) !== 0, loaded: false, nullCount: true, running: false, triggered: false,
      baseTicks: 0n, latch: [], status: null, readHigh: false, writeHigh: false,
    });
    if (sc === 0) this.rearmIrq();
  }

  private latchCount(ch: Channel): void {
    if (ch.latch.length > 0) return; // a second latch before the read is ignored
    this.stats.latches++;
    const v = this.counterValue(ch, this.clock());
    if (ch.rw === RW_LSB) ch.latch = [v & 0xff];
    else if (ch.rw === RW_MSB) ch.latch = [v >>> 8];
    else ch.latch = [v & 0xff, v >>> 8];
  }

  private readCounter(index: number): number {
    const ch = this.channels[index]!;
    if (ch.status !== null) {
      const s = ch.status;
      ch.status = null;
      return s;
    }
    if (ch.latch.length > 0) return ch.latch.shift()!;
    const v = this.counterValue(ch, this.clock());
    if (ch.rw === RW_LSB) return v & 0xff;
    if (ch.rw === RW_MSB) return v >>> 8;
    ch.readHigh = !ch.readHigh;
    return ch.readHigh ? v & 0xff : v >>> 8;
  }

  private writeCounter(index: number, byte: number): void {
    const ch = this.channels[index]!;
    if (ch.rw === RW_LSB) return this.loadCount(index, byte);
    if (ch.rw === RW_MSB) return this.loadCount(index, byte << 8);
    if (!ch.writeHigh) {
      ch.writeHigh = true;
      ch.writeLow = byte;
      if (ch.mode === 0 && ch.loaded) {
        // Mode 0: the first byte of a new count stops counting (datasheet, mode 0).
        this.pause(ch, this.clock());
        ch.loaded = false;
        if (index === 0) this.rearmIrq();
      }
      return;
    }
    ch.writeHigh = false;
    this.loadCount(index, ch.writeLow | (byte << 8));
  }

  private loadCount(index: number, raw: number): void {
    const ch = this.channels[index]!;
    let n = ch.bcd ? bcdToBin(raw) : raw;
    if (n === 0) n = ch.bcd ? 10000 : 0x10000; // 0 is the largest count
    ch.count = BigInt(n);
    ch.loaded = true;
    ch.nullCount = false;
    ch.baseTicks = 0n;
    ch.startNs = this.clock();
    ch.running = ch.gate;
    ch.triggered = ch.gate;
    if (index === 0) this.rearmIrq(true);
  }

  // ---- IRQ 0 --------------------------------------------------------------------------------

  private rearmIrq(newProgram = false): void {
    this.irqTimer?.cancel();
    this.irqTimer = null;
    const ch = this.channels[0]!;
    if (!this.scheduler || !ch.loaded || !ch.running) return;
    const periodic = ch.mode === 2 || ch.mode === 3;
    const clamped = periodic && ch.count * NS_PER_SEC < this.minIrqPeriodNs * FREQ;
    if (newProgram && clamped) this.stats.clampedPeriods++;
    const d = this.elapsed(ch, this.clock());
    if (!periodic) {
      if (d < ch.count) this.scheduleIrq(this.timeAtTicks(ch, ch.count), null, false);
      return;
    }
    this.scheduleIrq(this.timeAtTicks(ch, (d / ch.count + 1n) * ch.count), d / ch.count, clamped);
  }

  private scheduleIrq(deadline: bigint, lastPeriod: bigint | null, clamped: boolean): void {
    this.irqTimer = this.scheduler!.schedule(deadline, () => {
      this.irqTimer = null;
      const ch = this.channels[0]!;
      const now = this.clock();
      this.pulse();
      if (lastPeriod === null) return; // one-shot modes
      const k = this.elapsed(ch, now) / ch.count;
      if (!clamped && k > lastPeriod + 1n) this.stats.missedTicks += Number(k - lastPeriod - 1n);
      let next = this.timeAtTicks(ch, (k + 1n) * ch.count);
      // Like KVM, never re-fire sooner than the minimum period (guest cannot flood the host).
      if (clamped && next < now + this.minIrqPeriodNs) next = now + this.minIrqPeriodNs;
      this.scheduleIrq(next, k, clamped);
    });
  }

  private pulse(): void {
    this.stats.irqPulses++;
    this.irq0.set(true);
    this.irq0.set(false);
  }
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return a <= 0n ? a / b : (a + b - 1n) / b;
}

function bcdToBin(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

function binToBcd(v: number): number {
  return ((Math.trunc(v / 1000) % 10) << 12) | ((Math.trunc(v / 100) % 10) << 8) | ((Math.trunc(v / 10) % 10) << 4) | v % 10;
}
