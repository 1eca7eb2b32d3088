// Calendar codec for the MC146818 RTC: converts between guest wall time (ns since the Unix
// epoch, UTC) and the register images the chip exposes (BCD or binary, 12- or 24-hour),
// and back when the guest sets the clock. Pure functions; garbage in never throws.

export interface RtcFields {
  seconds: number;
  minutes: number;
  hours: number; // 0..23
  dayOfWeek: number; // 1..7, Sunday = 1 (MC146818A datasheet Table 3)
  dayOfMonth: number;
  month: number; // 1..12
  year: number; // full year, e.g. 2024
}

export interface RtcFormat {
  binary: boolean; // register B DM bit
  hours24: boolean; // register B 24/12 bit
}

/** Hour register bit 7 = PM in 12-hour mode (datasheet Table 3). */
export const HOUR_PM = 0x80;

export function toBcd(v: number): number {
  return ((Math.trunc(v / 10) % 10) << 4) | v % 10;
}

/** Decode BCD without validation (the chip would count from any value written). */
export function fromBcd(v: number): number {
  return ((v >> 4) & 0x0f) * 10 + (v & 0x0f);
}

export function fieldsFromEpochNs(epochNs: bigint): RtcFields {
  const d = new Date(Number(epochNs / 1_000_000n));
  return {
    seconds: d.getUTCSeconds(),
    minutes: d.getUTCMinutes(),
    hours: d.getUTCHours(),
    dayOfWeek: d.getUTCDay() + 1,
    dayOfMonth: d.getUTCDate(),
    month: d.getUTCMonth() + 1,
    year: d.getUTCFullYear(),
  };
}

/** Whole-second epoch ns of the fields (day of week is ignored, as the chip derives none). */
export function epochNsFromFields(f: RtcFields): bigint | null {
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  const d = new Date(0);
  d.setUTCFullYear(f.year, f.month - 1, f.dayOfMonth);
  d.setUTCHours(f.hours, f.minutes, f.seconds, 0);
  const ms = d.getTime();
  return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : null;
}

export function encodeValue(v: number, fmt: RtcFormat): number {
  return fmt.binary ? v & 0xff : toBcd(v);
}

export function decodeValue(raw: number, fmt: RtcFormat): number {
  return fmt.binary ? raw & 0xff : fromBcd(raw);
}

export function encodeHours(hours: number, fmt: RtcFormat): number {
  if (fmt.hours24) return encodeValue(hours, fmt);
  const h12 = hours % 12 === 0 ? 12 : hours % 12;
  return encodeValue(h12, fmt) | (hours >= 12 ? HOUR_PM : 0);
}

export function decodeHours(raw: number, fmt: RtcFormat): number {
  if (fmt.hours24) return decodeValue(raw, fmt);
  const h12 = decodeValue(raw & ~HOUR_PM, fmt) % 12;
  return h12 + (raw & HOUR_PM ? 12 : 0);
}
