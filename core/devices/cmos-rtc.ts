// MC146818A RTC + CMOS RAM at ports 0x70 (index; bit 7 = NMI disable) and 0x71 (data).
// Guest wall time = a base epoch plus the injected monotonic clock; reading a time register
// recomputes it, writing one (or clearing SET) rebases it. Flags in register C are set by
// scheduler timers while their interrupt is enabled (PIE/UIE/AIE) and otherwise evaluated
// lazily when C is read; IRQF drives IRQ 8 high until C is read. The firmware bytes below
// 0x80 carry the memory sizes SeaBIOS/QEMU expect, configured from the machine's RAM.
import type { IoDevice } from '../bus/types.js';
import { NullIrqLine, type IrqLine } from '../irq/types.js';
import { floatingValue, splitRead, splitWrite } from './isa-access.js';
import * as Cal from './rtc-calendar.js';
import { NS_PER_SEC, type Clock, type Scheduler, type TimerHandle } from './time.js';

export const CMOS_PORT_COUNT = 2;
const CMOS_SIZE = 128;
const INDEX_MASK = 0x7f;
const INDEX_NMI_DISABLE = 0x80;

// Register indexes (MC146818A datasheet, Figure 3 "Address Map").
const REG_SECONDS = 0x00;
const REG_SECONDS_ALARM = 0x01;
const REG_MINUTES = 0x02;
const REG_MINUTES_ALARM = 0x03;
const REG_HOURS = 0x04;
const REG_HOURS_ALARM = 0x05;
const REG_DAY_OF_WEEK = 0x06;
const REG_DAY_OF_MONTH = 0x07;
const REG_MONTH = 0x08;
const REG_YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const REG_CENTURY = 0x32; // IBM PC/AT convention (QEMU RTC_CENTURY)
const TIME_REGS = [REG_SECONDS, REG_MINUTES, REG_HOURS, REG_DAY_OF_WEEK, REG_DAY_OF_MONTH, REG_MONTH, REG_YEAR, REG_CENTURY];

// Register A: UIP (bit 7, read-only), DV2-0 (6:4), RS3-0 (3:0).
const A_UIP = 0x80;
const A_DV_MASK = 0x70;
const A_DV_32KHZ = 0x20; // normal operation with a 32.768 kHz time base
const A_RS_MASK = 0x0f;
// Register B.
const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_DM_BINARY = 0x04;
const B_24H = 0x02;
// Register C (read-only, cleared on read).
const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;
// Register D: VRT (valid RAM and time) always set.
const D_VRT = 0x80;
/** Alarm "don't care" codes are 0b11xxxxxx (datasheet, "Alarm" section). */
const ALARM_DONT_CARE = 0xc0;
/** UIP is set 244 us before each update (datasheet, "Update Cycle"). */
const UIP_WINDOW_NS = 244_000n;
const TIMEBASE_HZ = 32768n;

// Firmware CMOS bytes (QEMU pc_cmos_init, read by SeaBIOS and legacy OSes).
const CMOS_BASE_MEM_LO = 0x15;
const CMOS_EXT_MEM_LO = 0x17; // extended memory above 1 MiB, KiB, capped at 0xffff
const CMOS_EXT_MEM2_LO = 0x30; // same value again (POST-reported copy)
const CMOS_MEM_ABOVE_16M_LO = 0x34; // 64 KiB units between 16 MiB and 4 GiB
const CMOS_MEM_ABOVE_4G = 0x5b; // 3 bytes, 64 KiB units above 4 GiB
const CMOS_SMP_COUNT = 0x5f; // CPUs - 1 (SeaBIOS CMOS_BIOS_SMP_COUNT)
const CMOS_CHECKSUM_HI = 0x2e; // sum of 0x10..0x2d, big-endian
const KiB = 1024;
const MiB = 1024 * KiB;

export interface CmosRtcOptions {
  name?: string;
  clock: Clock;
  /** Needed for PIE/UIE/AIE interrupts; without it, C flags are still evaluated on read. */
  scheduler?: Scheduler;
  /** IRQ 8 (level: high while IRQF is set). */
  irq?: IrqLine;
  /** Guest wall time (ms since the epoch, UTC) at the clock's current reading. */
  startTimeMs?: number;
  ramBelow4GiB?: number;
  ramAbove4GiB?: number;
  cpus?: number;
}

export interface CmosRtcStats {
  interrupts: number; // IRQF rising edges
  periodicTicks: number;
  updateTicks: number;
  alarms: number;
  missedTicks: number; // periodic ticks coalesced because a timer fired late
  timeSets: number;
  ignoredWrites: number; // writes to C/D
  badAccesses: number;
}

export class CmosRtc implements IoDevice {
  readonly name: string;
  readonly stats: CmosRtcStats = {
    interrupts: 0, periodicTicks: 0, updateTicks: 0, alarms: 0, missedTicks: 0, timeSets: 0, ignoredWrites: 0, badAccesses: 0,
  };
  private readonly clock: Clock;
  private readonly scheduler: Scheduler | undefined;
  private readonly irq: IrqLine;
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiDisabledBit = false;
  private epochAtBase: bigint; // guest wall time at monoAtBase
  private monoAtBase: bigint;
  private flagsCheckedAt: bigint; // guest wall ns of the last C read
  private regC = 0;
  private irqLevel = false;
  private periodicTimer: TimerHandle | null = null;
  private secondTimer: TimerHandle | null = null;

  constructor(options: CmosRtcOptions) {
    this.name = options.name ?? 'cmos-rtc';
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.irq = options.irq ?? NullIrqLine;
    this.monoAtBase = this.clock();
    this.epochAtBase = BigInt(Math.trunc(options.startTimeMs ?? Date.now())) * 1_000_000n;
    this.flagsCheckedAt = this.epochAtBase;
    this.cmos[REG_A] = A_DV_32KHZ | 0x06; // 1024 Hz periodic rate, as a BIOS programs it
    this.cmos[REG_B] = B_24H;
    this.cmos[REG_D] = D_VRT;
    this.setMemorySizes(options.ramBelow4GiB ?? 0, options.ramAbove4GiB ?? 0, options.cpus ?? 1);
  }

  /** NMI-disable bit last written to the index port (the machine may honour it). */
  get nmiDisabled(): boolean {
    return this.nmiDisabledBit;
  }

  /** Guest wall time now, in ns since the epoch. */
  guestTimeNs(): bigint {
    return this.epochAtBase + (this.clock() - this.monoAtBase);
  }

  read(offset: number, size: number): number {
    const v = splitRead(offset, size, CMOS_PORT_COUNT, (port) => (port === 0 ? 0xff : this.readRegister(this.index)));
    if (v === null) {
      this.stats.badAccesses++;
      return floatingValue(size);
    }
    return v;
  }

  write(offset: number, size: number, value: number): void {
    const ok = splitWrite(offset, size, value, CMOS_PORT_COUNT, (port, byte) => {
      if (port === 0) {
        this.index = byte & INDEX_MASK;
        this.nmiDisabledBit = (byte & INDEX_NMI_DISABLE) !== 0;
      } else {
        this.writeRegister(this.index, byte);
      }
    });
    if (!ok) this.stats.badAccesses++;
  }

  private format(): Cal.RtcFormat {
    const b = this.cmos[REG_B]!;
    return { binary: (b & B_DM_BINARY) !== 0, hours24: (b & B_24H) !== 0 };
  }

  private running(): boolean {
    return !(this.cmos[REG_B]! & B_SET);
  }

  private readRegister(reg: number): number {
    if (TIME_REGS.includes(reg) && this.running()) this.latchTime();
    switch (reg) {
      case REG_A: {
        const now = this.guestTimeNs();
        const toNextSecond = NS_PER_SEC - mod(now, NS_PER_SEC);
        const updating = this.running() && (this.cmos[REG_A]! & A_DV_MASK) === A_DV_32KHZ && toNextSecond <= UIP_WINDOW_NS;
        return (this.cmos[REG_A]! & ~A_UIP) | (updating ? A_UIP : 0);
      }
      case REG_C: {
        this.collectLazyFlags();
        const value = this.regC;
        this.regC = 0;
        this.driveIrq();
        return value;
      }
      case REG_D:
        return D_VRT;
      default:
        return this.cmos[reg]!;
    }
  }

  private writeRegister(reg: number, value: number): void {
    switch (reg) {
      case REG_A:
        this.cmos[REG_A] = value & ~A_UIP;
        this.rescheduleTimers();
        return;
      case REG_B: {
        this.collectLazyFlags(); // flags already latched in hardware may fire on enable
        const wasRunning = this.running();
        // Setting SET freezes the registers at the current time and clears UIE (datasheet).
        if (value & B_SET) {
          if (wasRunning) this.latchTime();
          value &= ~B_UIE;
        }
        this.cmos[REG_B] = value;
        if (!wasRunning && this.running()) this.setTimeFromRegisters();
        this.updateIrqf();
        this.rescheduleTimers();
        return;
      }
      case REG_C:
      case REG_D:
        this.stats.ignoredWrites++;
        return;
      default:
        if (TIME_REGS.includes(reg) && this.running()) {
          this.latchTime();
          this.cmos[reg] = value;
          this.setTimeFromRegisters();
          this.rescheduleTimers();
        } else {
          this.cmos[reg] = value;
        }
    }
  }

  /** Copy the current time into the time registers in the current format. */
  private latchTime(): void {
    const f = Cal.fieldsFromEpochNs(this.guestTimeNs());
    const fmt = this.format();
    this.cmos[REG_SECONDS] = Cal.encodeValue(f.seconds, fmt);
    this.cmos[REG_MINUTES] = Cal.encodeValue(f.minutes, fmt);
    this.cmos[REG_HOURS] = Cal.encodeHours(f.hours, fmt);
    this.cmos[REG_DAY_OF_WEEK] = Cal.encodeValue(f.dayOfWeek, fmt);
    this.cmos[REG_DAY_OF_MONTH] = Cal.encodeValue(f.dayOfMonth, fmt);
    this.cmos[REG_MONTH] = Cal.encodeValue(f.month, fmt);
    this.cmos[REG_YEAR] = Cal.encodeValue(f.year % 100, fmt);
    this.cmos[REG_CENTURY] = Cal.encodeValue(Math.trunc(f.year / 100) % 100, fmt);
  }

  /** The guest set the clock: the divider chain restarts at the written whole second. */
  private setTimeFromRegisters(): void {
    const fmt = this.format();
    const dec = (reg: number) => Cal.decodeValue(this.cmos[reg]!, fmt);
    const epoch = Cal.epochNsFromFields({
      seconds: dec(REG_SECONDS),
      minutes: dec(REG_MINUTES),
      hours: Cal.decodeHours(this.cmos[REG_HOURS]!, fmt),
      dayOfWeek: dec(REG_DAY_OF_WEEK),
      dayOfMonth: dec(REG_DAY_OF_MONTH),
      month: dec(REG_MONTH),
      year: dec(REG_CENTURY) * 100 + dec(REG_YEAR),
    });
    if (epoch === null) return;
    this.monoAtBase = this.clock();
    this.epochAtBase = epoch;
    this.flagsCheckedAt = epoch;
    this.stats.timeSets++;
  }

  // ---- interrupt flags ----------------------------------------------------------------------

  /** Periodic interval in 32.768 kHz ticks, or 0 if off (datasheet Table 5). */
  private periodTicks(): bigint {
    const rs = this.cmos[REG_A]! & A_RS_MASK;
    if (rs === 0 || (this.cmos[REG_A]! & A_DV_MASK) !== A_DV_32KHZ) return 0n;
    return 1n << BigInt((rs <= 2 ? rs + 7 : rs) - 1); // RS 1, 2 alias 256 Hz and 128 Hz
  }

  /** Flags of events since the last C read whose timers were not running. */
  private collectLazyFlags(): void {
    const now = this.guestTimeNs();
    const last = this.flagsCheckedAt;
    this.flagsCheckedAt = now;
    if (now <= last) return;
    const p = this.periodTicks();
    if (p > 0n && floorDiv(now * TIMEBASE_HZ, p * NS_PER_SEC) > floorDiv(last * TIMEBASE_HZ, p * NS_PER_SEC)) {
      this.regC |= C_PF;
    }
    if (this.running() && floorDiv(now, NS_PER_SEC) > floorDiv(last, NS_PER_SEC)) {
      this.regC |= C_UF;
      // Only the latest update is compared with the alarm (AIE off means nobody waits).
      if (this.alarmMatches()) this.regC |= C_AF;
    }
    this.updateIrqf();
  }

  private alarmMatches(): boolean {
    const pairs: [number, number][] = [[REG_SECONDS_ALARM, REG_SECONDS], [REG_MINUTES_ALARM, REG_MINUTES], [REG_HOURS_ALARM, REG_HOURS]];
    this.latchTime();
    return pairs.every(([alarm, cur]) => {
      const a = this.cmos[alarm]!;
      return (a & ALARM_DONT_CARE) === ALARM_DONT_CARE || a === this.cmos[cur];
    });
  }

  private updateIrqf(): void {
    const b = this.cmos[REG_B]!;
    const pending = (this.regC & C_PF && b & B_PIE) || (this.regC & C_AF && b & B_AIE) || (this.regC & C_UF && b & B_UIE);
    if (pending) this.regC |= C_IRQF;
    this.driveIrq();
  }

  private driveIrq(): void {
    const level = (this.regC & C_IRQF) !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    if (level) this.stats.interrupts++;
    this.irq.set(level);
  }

  // ---- timers ---------------------------------------------------------------------------------

  private rescheduleTimers(): void {
    this.periodicTimer?.cancel();
    this.periodicTimer = null;
    this.secondTimer?.cancel();
    this.secondTimer = null;
    if (!this.scheduler) return;
    const b = this.cmos[REG_B]!;
    if (b & B_PIE && this.periodTicks() > 0n) this.schedulePeriodic(this.guestTimeNs());
    if (b & (B_UIE | B_AIE) && this.running()) this.scheduleSecond();
  }

  /** Guest wall ns -> clock ns. */
  private monoAt(guestNs: bigint): bigint {
    return this.monoAtBase + (guestNs - this.epochAtBase);
  }

  private schedulePeriodic(after: bigint): void {
    const p = this.periodTicks();
    const k = floorDiv(after * TIMEBASE_HZ, p * NS_PER_SEC) + 1n;
    const at = ceilDiv(k * p * NS_PER_SEC, TIMEBASE_HZ);
    this.periodicTimer = this.scheduler!.schedule(this.monoAt(at), () => {
      const now = this.guestTimeNs();
      const ticksLate = floorDiv(now * TIMEBASE_HZ, p * NS_PER_SEC) - k;
      if (ticksLate > 0n) this.stats.missedTicks += Number(ticksLate);
      this.stats.periodicTicks++;
      this.regC |= C_PF;
      this.updateIrqf();
      this.schedulePeriodic(now);
    });
  }

  private scheduleSecond(): void {
    const at = (floorDiv(this.guestTimeNs(), NS_PER_SEC) + 1n) * NS_PER_SEC;
    this.secondTimer = this.scheduler!.schedule(this.monoAt(at), () => {
      this.stats.updateTicks++;
      this.regC |= C_UF;
      if (this.alarmMatches()) {
        this.stats.alarms++;
        this.regC |= C_AF;
      }
      this.updateIrqf();
      this.scheduleSecond();
    });
  }

  // ---- firmware bytes -------------------------------------------------------------------------

  private setMemorySizes(below4G: number, above4G: number, cpus: number): void {
    const put16 = (at: number, v: number) => {
      this.cmos[at] = v & 0xff;
      this.cmos[at + 1] = (v >>> 8) & 0xff;
    };
    const low = Math.max(0, Math.trunc(below4G));
    const high = Math.max(0, Math.trunc(above4G));
    put16(CMOS_BASE_MEM_LO, Math.min(Math.floor(low / KiB), 640));
    const ext = Math.min(low > MiB ? Math.floor((low - MiB) / KiB) : 0, 0xffff);
    put16(CMOS_EXT_MEM_LO, ext);
    put16(CMOS_EXT_MEM2_LO, ext);
    put16(CMOS_MEM_ABOVE_16M_LO, Math.min(low > 16 * MiB ? Math.floor((low - 16 * MiB) / (64 * KiB)) : 0, 0xffff));
    const above = Math.min(Math.floor(high / (64 * KiB)), 0xffffff);
    this.cmos[CMOS_MEM_ABOVE_4G] = above & 0xff;
    this.cmos[CMOS_MEM_ABOVE_4G + 1] = (above >>> 8) & 0xff;
    this.cmos[CMOS_MEM_ABOVE_4G + 2] = (above >>> 16) & 0xff;
    this.cmos[CMOS_SMP_COUNT] = Math.max(0, Math.min(255, Math.trunc(cpus) - 1));
    let sum = 0;
    for (let i = 0x10; i < CMOS_CHECKSUM_HI; i++) sum += this.cmos[i]!;
    this.cmos[CMOS_CHECKSUM_HI] = (sum >>> 8) & 0xff;
    this.cmos[CMOS_CHECKSUM_HI + 1] = sum & 0xff;
  }
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}
