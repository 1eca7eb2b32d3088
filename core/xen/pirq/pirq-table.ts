// The PIRQ table of one Xen HVM domain: which PIRQs are in use and what feeds each one.
//
// Role: primary data of the PIRQ layer. A PIRQ is free, or in use as
//   - 'unbound'  allocated (PHYSDEVOP_get_free_pirq) but nothing feeds it yet;
//   - 'gsi'      an emulated GSI (PHYSDEVOP_map_pirq MAP_PIRQ_TYPE_GSI): the GSI hook eats
//                the line and raises the PIRQ's port instead of the IOAPIC;
//   - 'msi-emu'  MSI(-X) messages in the PIRQ encoding target it (found by snooping the
//                device's vector writes, or by the first such message delivered), with the
//                {device, vector, isMsix, masked} provenance of the snooped vector.
// The PIRQ → event-channel port binding is NOT kept here: it is the PIRQ row of the port
// table (core/xen/evtchn), which raisePirq reads and which the event-channel state saves.
// The table reads it through `portOf` for statistics only.
//
// Also here: the level of every GSI as last seen by the GSI hook (gsi-hook.ts), because a
// GSI eaten by the hook is never seen by the IOAPIC, so nobody else remembers it.
//
// Allocation (shared/docs/xen-hvm-interfaces.md §6.1, Xen get_free_pirq, QEMU allocate_pirq):
// PIRQs 0..15 are never handed out; GSI type takes the first free PIRQ in [16, 24), then
// (both Xen and QEMU fall through) the MSI rule; MSI/other types take the highest free PIRQ
// going down from nr_pirqs-1 to 24. None free → -ENOSPC.
//
// Threading: host thread only (hypercalls forwarded to it, the GSI hook, MSI delivery and
// the fd watcher all run there). Plain objects, no locks.
//
// Save/restore: state() is primary data only (in-use PIRQs with kind, GSI, MSI provenance;
// the GSI levels). restore() rebuilds the entries and recomputes the GSI → PIRQ map.
import { VmmError } from '../../errors.js';
import { ENOSPC } from '../errno.js';

/** QEMU's default `xen-evtchn-max-pirq` (hw/i386/kvm/xen_evtchn.c); Xen's is per-domain. */
export const DEFAULT_NR_PIRQS = 256;
/** GSIs an HVM domain has: IOAPIC pins (QEMU IOAPIC_NUM_PINS; Xen nr_irqs_gsi / NR_HVM_DOMU_IRQS). */
export const NR_IRQS_GSI = 24;
/** ISA IRQs (Xen NR_ISAIRQS): PIRQs below this are never allocated. */
export const NR_ISA_IRQS = 16;
/** physdev.h MAP_PIRQ_TYPE_GSI: the only get_free_pirq type that allocates from [16, 24). */
export const MAP_PIRQ_TYPE_GSI = 1;
/** Upper bound we accept for nr_pirqs (the MSI encoding carries 32 bits; keep tables sane). */
export const MAX_NR_PIRQS = 65536;

export type PirqKind = 'unbound' | 'gsi' | 'msi-emu';

/** Where an MSI-emu PIRQ's message was snooped. */
export interface MsiProvenance {
  device: string;
  vector: number;
  isMsix: boolean;
  /** The vector's effective mask when it was last snooped. */
  masked: boolean;
}

/** One in-use PIRQ as plain data (saved form). */
export interface SavedPirq {
  pirq: number;
  kind: PirqKind;
  /** 'gsi' only. */
  gsi?: number;
  /** 'msi-emu' with a snooped vector only. */
  msi?: MsiProvenance;
}

export interface PirqTableState {
  version: 1;
  nrPirqs: number;
  pirqs: SavedPirq[];
  /** Bit n set: GSI n was asserted when last seen by the GSI hook. */
  gsiLevels: number;
}

/** Runtime view of one PIRQ (includes derived and counter data). */
export interface PirqInfo extends SavedPirq {
  /** Bound event-channel port (0: none). */
  port: number;
  /** 'gsi' only: the line's level. */
  level?: boolean;
  /** Events raised (GSI assertions, EOI re-raises, PIRQ-form MSIs) that reached a port. */
  count: number;
  /** Events with no port bound (or refused by the event channels). */
  dropped: number;
}

interface Entry {
  kind: PirqKind;
  gsi: number;
  msi: MsiProvenance | null;
  count: number;
  dropped: number;
}

export class PirqTable {
  readonly nrPirqs: number;
  private readonly entries: (Entry | undefined)[];
  /** GSI → PIRQ, -1 when not mapped. Derived from entries. */
  private readonly gsiPirqMap = new Int32Array(NR_IRQS_GSI).fill(-1);
  private levels = 0;

  constructor(
    nrPirqs = DEFAULT_NR_PIRQS,
    private portOf: (pirq: number) => number = () => 0,
  ) {
    if (!Number.isInteger(nrPirqs) || nrPirqs < NR_IRQS_GSI || nrPirqs > MAX_NR_PIRQS) {
      throw new VmmError(`nr_pirqs ${nrPirqs} must be an integer in [${NR_IRQS_GSI}, ${MAX_NR_PIRQS}]`);
    }
    this.nrPirqs = nrPirqs;
    this.entries = new Array<Entry | undefined>(nrPirqs);
  }

  /** Where bound ports are looked up (the event-channel port table's PIRQ map). */
  setPortLookup(portOf: (pirq: number) => number): void {
    this.portOf = portOf;
  }

  valid(pirq: number): boolean {
    return Number.isInteger(pirq) && pirq >= 0 && pirq < this.nrPirqs;
  }

  inUse(pirq: number): boolean {
    return this.valid(pirq) && this.entries[pirq] !== undefined;
  }

  kind(pirq: number): PirqKind | null {
    return this.valid(pirq) ? (this.entries[pirq]?.kind ?? null) : null;
  }

  /** GSI of a 'gsi' PIRQ, else -1. */
  gsiOf(pirq: number): number {
    const e = this.valid(pirq) ? this.entries[pirq] : undefined;
    return e?.kind === 'gsi' ? e.gsi : -1;
  }

  /** PIRQ mapped to `gsi`, else -1. */
  gsiPirq(gsi: number): number {
    return gsi >= 0 && gsi < NR_IRQS_GSI ? this.gsiPirqMap[gsi]! : -1;
  }

  msiOf(pirq: number): MsiProvenance | null {
    const e = this.valid(pirq) ? this.entries[pirq] : undefined;
    return e?.kind === 'msi-emu' && e.msi ? { ...e.msi } : null;
  }

  port(pirq: number): number {
    return this.valid(pirq) ? this.portOf(pirq) : 0;
  }

  // ---- allocation and mapping ---------------------------------------------------------

  /** get_free_pirq rules (header). Marks the PIRQ 'unbound'; returns it or -ENOSPC. */
  allocate(type: number): number {
    const pirq = this.findFree(type);
    if (pirq < 0) return pirq;
    this.entries[pirq] = newEntry('unbound');
    return pirq;
  }

  private findFree(type: number): number {
    if (type === MAP_PIRQ_TYPE_GSI) {
      for (let p = NR_ISA_IRQS; p < NR_IRQS_GSI; p++) if (!this.entries[p]) return p;
    }
    for (let p = this.nrPirqs - 1; p >= NR_IRQS_GSI; p--) if (!this.entries[p]) return p;
    return -ENOSPC;
  }

  /** Map `pirq` (free or 'unbound') to `gsi` (not mapped). The caller checked both. */
  mapGsi(pirq: number, gsi: number): void {
    const e = this.entries[pirq] ?? newEntry('gsi');
    e.kind = 'gsi';
    e.gsi = gsi;
    e.msi = null;
    this.entries[pirq] = e;
    this.gsiPirqMap[gsi] = pirq;
  }

  /** Free an in-use PIRQ (PHYSDEVOP_unmap_pirq). */
  release(pirq: number): void {
    const e = this.entries[pirq];
    if (!e) return;
    if (e.kind === 'gsi' && this.gsiPirqMap[e.gsi] === pirq) this.gsiPirqMap[e.gsi] = -1;
    this.entries[pirq] = undefined;
  }

  /** Record an MSI-emu PIRQ (snooped vector, or first PIRQ-form message without one). */
  setMsiEmu(pirq: number, msi: MsiProvenance | null): void {
    const e = this.entries[pirq];
    if (!e || e.kind === 'gsi') return;
    e.kind = 'msi-emu';
    if (msi) e.msi = { ...msi };
  }

  /** Forget {device, vector, isMsix} on every MSI-emu PIRQ except `except` (it moved). */
  forgetVector(device: string, vector: number, isMsix: boolean, except: number): void {
    this.entries.forEach((e, p) => {
      if (p !== except && e?.kind === 'msi-emu' && e.msi && e.msi.device === device && e.msi.vector === vector && e.msi.isMsix === isMsix) {
        e.kind = 'unbound';
        e.msi = null;
      }
    });
  }

  /** Forget every vector of `device` (device removed). */
  forgetDevice(device: string): void {
    for (const e of this.entries) {
      if (e?.kind === 'msi-emu' && e.msi?.device === device) {
        e.kind = 'unbound';
        e.msi = null;
      }
    }
  }

  // ---- GSI levels and counters ----------------------------------------------------------

  gsiLevel(gsi: number): boolean {
    return gsi >= 0 && gsi < NR_IRQS_GSI && ((this.levels >>> gsi) & 1) === 1;
  }

  setGsiLevel(gsi: number, level: boolean): void {
    if (!(gsi >= 0 && gsi < NR_IRQS_GSI)) return;
    this.levels = level ? (this.levels | (1 << gsi)) >>> 0 : (this.levels & ~(1 << gsi)) >>> 0;
  }

  /** Count one raise of `pirq`; `dropped` when no port took it. */
  counted(pirq: number, dropped: boolean): void {
    const e = this.valid(pirq) ? this.entries[pirq] : undefined;
    if (!e) return;
    if (dropped) e.dropped++;
    else e.count++;
  }

  // ---- views, save and restore ----------------------------------------------------------

  /** Every in-use PIRQ, ascending, with port, level and counters (statistics). */
  list(): PirqInfo[] {
    const out: PirqInfo[] = [];
    this.entries.forEach((e, pirq) => {
      if (!e) return;
      const info: PirqInfo = { ...save(pirq, e), port: this.portOf(pirq), count: e.count, dropped: e.dropped };
      if (e.kind === 'gsi') info.level = this.gsiLevel(e.gsi);
      out.push(info);
    });
    return out;
  }

  state(): PirqTableState {
    const pirqs: SavedPirq[] = [];
    this.entries.forEach((e, pirq) => e && pirqs.push(save(pirq, e)));
    return { version: 1, nrPirqs: this.nrPirqs, pirqs, gsiLevels: this.levels };
  }

  /** Rebuild entries and the GSI → PIRQ map from saved data (host thread, vCPUs stopped). */
  restore(s: PirqTableState): void {
    if (s?.version !== 1 || !Array.isArray(s.pirqs) || s.nrPirqs !== this.nrPirqs) {
      throw new VmmError(`bad PIRQ state (expected version 1 with nr_pirqs ${this.nrPirqs})`);
    }
    const entries = new Array<Entry | undefined>(this.nrPirqs);
    const map = new Int32Array(NR_IRQS_GSI).fill(-1);
    for (const sp of s.pirqs) {
      if (!this.valid(sp?.pirq) || entries[sp.pirq]) throw new VmmError(`bad saved PIRQ ${sp?.pirq}`);
      const e = newEntry(sp.kind);
      if (sp.kind === 'gsi') {
        if (!(Number.isInteger(sp.gsi) && sp.gsi! >= 0 && sp.gsi! < NR_IRQS_GSI) || map[sp.gsi!] !== -1) {
          throw new VmmError(`bad saved GSI ${sp.gsi} for PIRQ ${sp.pirq}`);
        }
        e.gsi = sp.gsi!;
        map[e.gsi] = sp.pirq;
      } else if (sp.kind === 'msi-emu') {
        if (sp.msi) e.msi = checkProvenance(sp.msi, sp.pirq);
      } else if (sp.kind !== 'unbound') {
        throw new VmmError(`bad saved PIRQ kind ${String(sp.kind)}`);
      }
      const old = this.entries[sp.pirq];
      if (old) [e.count, e.dropped] = [old.count, old.dropped]; // statistics are the machine's, not saved
      entries[sp.pirq] = e;
    }
    const levels = Number(s.gsiLevels);
    if (!Number.isInteger(levels) || levels < 0 || levels >= 2 ** NR_IRQS_GSI) throw new VmmError('bad saved GSI levels');
    for (let p = 0; p < this.nrPirqs; p++) this.entries[p] = entries[p];
    this.gsiPirqMap.set(map);
    this.levels = levels;
  }
}

function newEntry(kind: PirqKind): Entry {
  return { kind, gsi: -1, msi: null, count: 0, dropped: 0 };
}

function save(pirq: number, e: Entry): SavedPirq {
  const s: SavedPirq = { pirq, kind: e.kind };
  if (e.kind === 'gsi') s.gsi = e.gsi;
  if (e.kind === 'msi-emu' && e.msi) s.msi = { ...e.msi };
  return s;
}

function checkProvenance(m: MsiProvenance, pirq: number): MsiProvenance {
  if (typeof m.device !== 'string' || !Number.isInteger(m.vector) || m.vector < 0 || typeof m.isMsix !== 'boolean') {
    throw new VmmError(`bad saved MSI provenance for PIRQ ${pirq}`);
  }
  return { device: m.device, vector: m.vector, isMsix: m.isMsix, masked: m.masked === true };
}
