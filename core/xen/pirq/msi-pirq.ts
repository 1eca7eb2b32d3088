// MSI → PIRQ: messages in the PIRQ encoding, snooping of MSI/MSI-X vectors, and delivery.
//
// Encoding (shared/docs/xen-hvm-interfaces.md §6.2; Linux xen_msi_compose_msg, Xen
// hvm_inject_msi, QEMU msi_pirq_target): after PHYSDEVOP_get_free_pirq(MSI) a Linux guest
// writes address_lo = 0xFEE00000 | (pirq & 0xff) << 12, address_hi = pirq & 0xffffff00,
// data with vector 0 (0x700 or 0x4300 in practice). Recogniser: data & 0xff == 0 →
// pirq = ((address_lo >> 12) & 0xff) | (address_hi & 0xffffff00); pirq 0 is not a PIRQ.
// We also require pirq < nr_pirqs (QEMU: otherwise "not a PIRQ", the message goes on as a
// normal MSI, and the LAPIC drops its illegal vector 0).
//
// Data flow:
//   - snooping: the MSI-X and MSI bindings report vector states through snoop() (via
//     notifier() around their VectorNotifier; sources: msixSource, msiSource). Masked message
//     writes do not reach a VectorNotifier, so bind() also rescans every attached function
//     (attach()) for vectors that carry the PIRQ: nothing the guest wrote is missed.
//   - unmask on bind: guests write the PIRQ message into a masked vector and never unmask it
//     (Linux's PIRQ irq_chip does not); EVTCHNOP_bind_pirq → bindMsi(pirq) unmasks it on
//     their behalf through the function's `unmask(v)`, which fires the vector notifier and
//     makes the MSI-X engine send what was pending in the PBA (→ the now-bound port).
//   - delivery: deliverPirqMsi(msg) raises the bound port for a PIRQ-form message and
//     returns true (consumed). Userspace path: sender() wraps a VectorSender; wrapVm()
//     wraps the IrqVm whose signalMsi the interrupt groups use (KVM_SIGNAL_MSI). Route path:
//     KVM (without in-kernel Xen) cannot route to an event channel, so the routing layer must
//     keep PIRQ-form vectors off irqfd routes (isPirqMsi(msg) → userspace/fallback path) and
//     inject each eventfd signal through the wrapped signalMsi.
//
// Threading: host thread only (MSI-X table writes, fd watcher callbacks and forwarded
// hypercalls all run there). No locks; raisePirq is the lock-free-to-callers fast path
// (events.ts), and unmask(v) → notifier → routing runs with nothing held.
import type { MsiMessage } from '../../irq/types.js';
import type { MsixCapability } from '../../pci/msix.js';
import { MSIX_ENTRY, MSIX_ENTRY_SIZE, MSIX_VECTOR_MASKED } from '../../pci/msix.js';
import type { VectorNotifier, VectorSender } from '../../pci/vectors.js';
import type { ConfigSpace } from '../../pci/config-space.js';
import { msiLayout, MSI_CTRL_64BIT, MSI_CTRL_PER_VECTOR_MASK, type MsiCapability } from '../../pci/msi.js';
import { noEvents, raiseCounted, type PirqEvents } from './events.js';
import type { PirqTable } from './pirq-table.js';

/** MSI capability: Message Control at +2 (PCI 3.0 §6.8.1.3). */
const MSI_CONTROL = 2;
/** MSI data bits 7:0: the vector (Intel SDM 11.11.2); 0 marks the PIRQ encoding. */
export const MSI_DATA_VECTOR_MASK = 0xff;
/** MSI address_lo bits 19:12: destination ID 7:0 = PIRQ bits 7:0. */
export const MSI_ADDR_DEST_ID_SHIFT = 12;
export const MSI_ADDR_DEST_ID_MASK = 0xff;
/** MSI address_hi bits 31:8 = PIRQ bits 31:8 (QEMU msi_pirq_target: addr >> 32 & 0xffffff00). */
export const MSI_ADDR_HI_PIRQ_MASK = 0xffffff00;

/** The PIRQ an MSI message targets, or 0 when it is not in the PIRQ encoding. */
export function pirqOfMsi(msg: MsiMessage): number {
  if ((msg.data & MSI_DATA_VECTOR_MASK) !== 0) return 0;
  return (((msg.addressLo >>> MSI_ADDR_DEST_ID_SHIFT) & MSI_ADDR_DEST_ID_MASK) | (msg.addressHi & MSI_ADDR_HI_PIRQ_MASK)) >>> 0;
}

/** The message Linux composes for `pirq` (tests, lab guests). */
export function pirqMsi(pirq: number, data = 0x700): MsiMessage {
  return { addressLo: (0xfee00000 | ((pirq & 0xff) << MSI_ADDR_DEST_ID_SHIFT)) >>> 0, addressHi: (pirq & MSI_ADDR_HI_PIRQ_MASK) >>> 0, data };
}

/** One function's MSI or MSI-X vectors, as the PIRQ layer needs them. */
export interface PirqVectorSource {
  device: string;
  isMsix: boolean;
  readonly vectors: number;
  message(v: number): MsiMessage;
  /** Effective mask. */
  isMasked(v: number): boolean;
  /** Clear the vector's mask bit as the guest would (fires the vector notifier). */
  unmask(v: number): void;
}

/** A PirqVectorSource over an MSI-X capability; unmask is a table write of Vector Control. */
export function msixSource(device: string, msix: MsixCapability): PirqVectorSource {
  return {
    device,
    isMsix: true,
    vectors: msix.vectors,
    message: (v) => msix.message(v),
    isMasked: (v) => msix.isMasked(v),
    unmask: (v) => {
      const at = v * MSIX_ENTRY_SIZE + MSIX_ENTRY.vectorControl;
      msix.table.write(at, 4, (msix.table.read(at, 4) & ~MSIX_VECTOR_MASKED) >>> 0);
    },
  };
}

/**
 * A PirqVectorSource over a plain MSI capability (PCI 3.0 §6.8.1). Vectors = the ones the
 * guest allocated (2^MME). unmask clears the vector's Mask bit through the guest write path
 * (so the capability re-evaluates and sends what is pending); without per-vector masking
 * there is nothing the PIRQ layer can unmask (the guest enables MSI itself).
 */
export function msiSource(device: string, msi: MsiCapability, cfg: ConfigSpace): PirqVectorSource {
  return {
    device,
    isMsix: false,
    get vectors() {
      return msi.allocated;
    },
    message: (v) => msi.message(v),
    isMasked: (v) => msi.isMasked(v),
    unmask: (v) => {
      const ctl = cfg.get16(msi.offset + MSI_CONTROL);
      const mask = msiLayout((ctl & MSI_CTRL_64BIT) !== 0, (ctl & MSI_CTRL_PER_VECTOR_MASK) !== 0).mask;
      if (mask === undefined) return;
      cfg.write(msi.offset + mask, 4, (cfg.get32(msi.offset + mask) & ~(1 << v)) >>> 0);
    },
  };
}

export interface MsiPirqStats {
  /** PIRQ-form messages raised on a bound port. */
  delivered: number;
  /** PIRQ-form messages with no port bound. */
  dropped: number;
  /** PIRQ-form messages naming a GSI-mapped PIRQ (dropped, as Xen does). */
  gsiTargeted: number;
  /** Vectors recorded as feeding an MSI-emu PIRQ. */
  snooped: number;
  /** Vectors unmasked on the guest's behalf at bind_pirq. */
  unmaskedOnBind: number;
  /** unmask(v) threw (counted; bind_pirq still succeeds). */
  unmaskFailures: number;
}

export class MsiPirq {
  private readonly sources = new Set<PirqVectorSource>();
  readonly stats: MsiPirqStats = { delivered: 0, dropped: 0, gsiTargeted: 0, snooped: 0, unmaskedOnBind: 0, unmaskFailures: 0 };

  constructor(
    private readonly table: PirqTable,
    private readonly events: () => PirqEvents = () => noEvents,
  ) {}

  /** The PIRQ a message targets if it is a valid PIRQ-form message, else null. */
  translate(msg: MsiMessage): { pirq: number } | null {
    const pirq = pirqOfMsi(msg);
    return pirq !== 0 && pirq < this.table.nrPirqs ? { pirq } : null;
  }

  /** For the routing layer: true → keep this vector off KVM routes, inject via signalMsi. */
  isPirqMsi(msg: MsiMessage): boolean {
    return this.translate(msg) !== null;
  }

  /** Deliver a PIRQ-form message to its port. True: consumed (do not send it as an MSI). */
  deliverPirqMsi(msg: MsiMessage): boolean {
    const t = this.translate(msg);
    if (!t) return false;
    const kind = this.table.kind(t.pirq);
    if (kind === 'gsi') {
      this.stats.gsiTargeted++;
      this.table.counted(t.pirq, true);
      return true;
    }
    if (kind === 'unbound') this.table.setMsiEmu(t.pirq, null); // Xen: first message maps it IRQ_MSI_EMU
    if (raiseCounted(this.table, this.events(), t.pirq)) this.stats.delivered++;
    else this.stats.dropped++;
    return true;
  }

  /**
   * A vector of `device` holds `msg` (QEMU xen_evtchn_snoop_msi). If it targets an allocated
   * PIRQ that is unbound or MSI-emu, record the vector there; forget the vector on every
   * other PIRQ (the guest re-pointed it).
   */
  snoop(device: string, vector: number, isMsix: boolean, msg: MsiMessage, masked: boolean): void {
    const t = this.translate(msg);
    let pirq = t ? t.pirq : -1;
    const kind = pirq >= 0 ? this.table.kind(pirq) : null;
    if (kind !== 'unbound' && kind !== 'msi-emu') pirq = -1;
    if (pirq >= 0) {
      const old = this.table.msiOf(pirq);
      this.table.setMsiEmu(pirq, { device, vector, isMsix, masked });
      if (!old || old.device !== device || old.vector !== vector || old.isMsix !== isMsix) this.stats.snooped++;
    }
    this.table.forgetVector(device, vector, isMsix, pirq);
  }

  /** Register a function for rescans and unmask-on-bind; returns the detach function. */
  attach(source: PirqVectorSource): () => void {
    this.sources.add(source);
    return () => this.detach(source);
  }

  /** The function went away: forget its vectors. */
  detach(source: PirqVectorSource): void {
    this.sources.delete(source);
    this.table.forgetDevice(source.device);
  }

  /** A VectorNotifier that snoops every report and then passes it to `inner`. */
  notifier(source: PirqVectorSource, inner: VectorNotifier): VectorNotifier {
    return {
      unmasked: (v, msg) => {
        this.snoop(source.device, v, source.isMsix, msg, false);
        inner.unmasked(v, msg);
      },
      masked: (v) => {
        this.snoop(source.device, v, source.isMsix, source.message(v), true);
        inner.masked(v);
      },
      messageChanged: (v, msg) => {
        this.snoop(source.device, v, source.isMsix, msg, false);
        inner.messageChanged(v, msg);
      },
    };
  }

  /** A VectorSender that delivers PIRQ-form messages to their port and the rest to `inner`. */
  sender(inner: VectorSender): VectorSender {
    return { send: (v, msg) => void (this.deliverPirqMsi(msg) || inner.send(v, msg)) };
  }

  /** The same VM object with signalMsi intercepting PIRQ-form messages (returns 1: delivered). */
  wrapVm<V extends { signalMsi(msg: MsiMessage): number }>(vm: V): V {
    const signalMsi = (msg: MsiMessage): number => (this.deliverPirqMsi(msg) ? 1 : vm.signalMsi(msg));
    return new Proxy(vm, {
      get: (target, prop) => {
        if (prop === 'signalMsi') return signalMsi;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /**
   * EVTCHNOP_bind_pirq for an MSI PIRQ: rescan attached functions for vectors carrying
   * `pirq` (masked writes are invisible to notifiers), then unmask the recorded vector if it
   * is masked. Returns true when a vector was unmasked.
   */
  bindMsi(pirq: number): boolean {
    this.rescan(pirq);
    const prov = this.table.msiOf(pirq);
    if (!prov) return false;
    const src = [...this.sources].find((s) => s.device === prov.device && s.isMsix === prov.isMsix);
    if (!src || prov.vector >= src.vectors || !src.isMasked(prov.vector)) return false;
    try {
      src.unmask(prov.vector);
    } catch {
      this.stats.unmaskFailures++;
      return false;
    }
    this.stats.unmaskedOnBind++;
    const now = this.table.msiOf(pirq);
    if (now) this.table.setMsiEmu(pirq, { ...now, masked: src.isMasked(prov.vector) });
    return true;
  }

  /**
   * After a restore: the saved MSI provenance is checked against the attached functions'
   * current tables (device state, authoritative): a recorded vector that no longer carries
   * its PIRQ is forgotten, and every vector that does is snooped again (mask flag fresh).
   * A provenance naming a function that is not attached is kept as saved.
   */
  resync(): void {
    for (const info of this.table.list()) {
      const prov = info.msi;
      if (info.kind !== 'msi-emu' || !prov) continue;
      const at = [...this.sources].find((s) => s.device === prov.device && s.isMsix === prov.isMsix);
      if (at && (prov.vector >= at.vectors || pirqOfMsi(at.message(prov.vector)) !== info.pirq)) {
        this.table.forgetVector(prov.device, prov.vector, prov.isMsix, -1);
      }
    }
    for (const s of this.sources) {
      for (let v = 0; v < s.vectors; v++) {
        const msg = s.message(v);
        if (this.translate(msg)) this.snoop(s.device, v, s.isMsix, msg, s.isMasked(v));
      }
    }
  }

  private rescan(pirq: number): void {
    const kind = this.table.kind(pirq);
    if (kind !== 'unbound' && kind !== 'msi-emu') return;
    const prov = this.table.msiOf(pirq);
    const at = prov && [...this.sources].find((s) => s.device === prov.device && s.isMsix === prov.isMsix);
    if (prov && at && (prov.vector >= at.vectors || pirqOfMsi(at.message(prov.vector)) !== pirq)) {
      this.table.forgetVector(prov.device, prov.vector, prov.isMsix, -1); // re-pointed while masked
    }
    for (const s of this.sources) {
      for (let v = 0; v < s.vectors; v++) {
        const msg = s.message(v);
        if (pirqOfMsi(msg) === pirq) this.snoop(s.device, v, s.isMsix, msg, s.isMasked(v));
      }
    }
  }
}
