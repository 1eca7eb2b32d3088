// Presentation of the userspace IOAPIC's state: the per-pin snapshot for the statistics
// view and the text table modelled on QEMU's `info pic` output for its IOAPIC. Pure
// functions of a read-only view of the device, so they cannot disturb interrupt state.
import type { IoapicPinStats, IoapicStats } from './ioapic.js';
import * as Rte from './ioapic-rte.js';

const REG_REDTBL_BASE = 0x10;

export interface IoapicView {
  name: string;
  version: number;
  id: number;
  ioregsel: number;
  irr: number;
  lo: readonly number[];
  hi: readonly number[];
}

export interface IoapicPinSnapshot extends IoapicPinStats {
  pin: number;
  vector: number;
  destination: number;
  deliveryMode: string;
  destMode: 'physical' | 'logical';
  trigger: 'edge' | 'level';
  polarity: 'high' | 'low';
  masked: boolean;
  irr: boolean;
  remoteIrr: boolean;
}

export interface IoapicSnapshot {
  id: number;
  version: number;
  ioregsel: number;
  pins: IoapicPinSnapshot[];
  stats: IoapicStats;
}

/** The architectural fields of one redirection-table entry (no counters). */
export type IoapicPinFields = Omit<IoapicPinSnapshot, keyof IoapicPinStats>;

/** Decode one RTE (two 32-bit words) and the pin's IRR bit; shared with the in-kernel IOAPIC view. */
export function decodeRtePin(pin: number, lo: number, hi: number, irr: number): IoapicPinFields {
  return {
    pin,
    vector: Rte.rteVector(lo),
    destination: (Rte.rteExtDestination(hi) << 8) | Rte.rteDestination(hi),
    deliveryMode: Rte.deliveryModeName(Rte.rteDeliveryMode(lo)),
    destMode: lo & Rte.RTE_DEST_LOGICAL ? 'logical' : 'physical',
    trigger: Rte.rteIsLevel(lo) ? 'level' : 'edge',
    polarity: lo & Rte.RTE_ACTIVE_LOW ? 'low' : 'high',
    masked: Rte.rteIsMasked(lo),
    irr: (irr & (1 << pin)) !== 0,
    remoteIrr: (lo & Rte.RTE_REMOTE_IRR) !== 0,
  };
}

export function snapshotIoapic(v: IoapicView, pinStats: readonly IoapicPinStats[], stats: IoapicStats): IoapicSnapshot {
  const pins = v.lo.map((lo, pin): IoapicPinSnapshot => ({ ...decodeRtePin(pin, lo, v.hi[pin]!, v.irr), ...pinStats[pin]! }));
  return { id: v.id, version: v.version, ioregsel: v.ioregsel, pins, stats: { ...stats } };
}

export function describeIoapic(v: IoapicView): string {
  const sel = v.ioregsel;
  const pinCount = v.lo.length;
  const selNote = sel >= REG_REDTBL_BASE && sel < REG_REDTBL_BASE + 2 * pinCount ? ` (redir[${(sel - REG_REDTBL_BASE) >> 1}])` : '';
  const hex2 = (n: number) => n.toString(16).padStart(2, '0');
  const lines = [`${v.name}: ver=0x${v.version.toString(16)} id=0x${hex2(v.id)} sel=0x${hex2(sel)}${selNote}`];
  for (let pin = 0; pin < pinCount; pin++) {
    lines.push(Rte.formatRte(pin, { lo: v.lo[pin]!, hi: v.hi[pin]! }, (v.irr & (1 << pin)) !== 0));
  }
  const list = (has: (pin: number) => boolean) => {
    const pins = [...Array(pinCount).keys()].filter(has);
    return pins.length ? pins.join(' ') : '(none)';
  };
  lines.push(`  IRR        ${list((p) => (v.irr & (1 << p)) !== 0)}`);
  lines.push(`  Remote IRR ${list((p) => Rte.rteIsLevel(v.lo[p]!) && (v.lo[p]! & Rte.RTE_REMOTE_IRR) !== 0)}`);
  return lines.join('\n');
}
