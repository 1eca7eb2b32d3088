// Per-vector interrupt bookkeeping shared by MSI and MSI-X, after QEMU's hw/pci/msix.c:
// - notify(v) on an effectively masked vector sets its pending bit instead of sending;
// - whenever a register write may have changed a vector, refresh(v) compares its effective
//   mask and message with what was last reported: masked→unmasked fires
//   notifier.unmasked(v, current message) and then, if the pending bit is set, clears it and
//   sends the current message exactly once; unmasked→masked fires notifier.masked(v); a new
//   message on a vector that stays unmasked fires notifier.messageChanged(v, msg) so an
//   irqfd route can follow it. The interrupt layer uses these to move a vector between its
//   irqfd and the userspace path, and poll hooks (before pending-bit reads) to fold in
//   events that arrived on a masked vector's eventfd via setPending().
// Counters are typed arrays so 2048-vector tables stay cheap.
import type { MsiMessage, MsiSink } from '../irq/types.js';

/** Effective-mask and route changes of a function's vectors. */
export interface VectorNotifier {
  /** The vector can now be delivered; `msg` is its current message (install the route). */
  unmasked(vector: number, msg: MsiMessage): void;
  /** The vector is masked now: events must be latched in the pending bit. */
  masked(vector: number): void;
  /** An unmasked vector's message changed: the route must follow. */
  messageChanged(vector: number, msg: MsiMessage): void;
}

/** Where sent messages go (userspace path); the vector travels along for provenance. */
export interface VectorSender {
  send(vector: number, msg: MsiMessage): void;
}

export function senderFromSink(sink: MsiSink): VectorSender {
  return { send: (_vector, msg) => sink.signalMsi(msg) };
}

export interface VectorCounters {
  notifies: number;
  sent: number;
  firedWhileMasked: number;
  /** Fired while masked with the pending bit already set (events merged into one). */
  coalesced: number;
  deliveredAfterUnmask: number;
}

/** The owner's view of its registers, read fresh on every decision. */
export interface VectorSource {
  isMasked(vector: number): boolean;
  message(vector: number): MsiMessage;
  isPending(vector: number): boolean;
  setPendingBit(vector: number, pending: boolean): void;
}

export class VectorEngine {
  private readonly reportedMasked: Uint8Array;
  private readonly reportedMsg: Uint32Array;
  private readonly counters: { [K in keyof VectorCounters]: Float64Array };
  private notifier: VectorNotifier | null = null;

  constructor(
    readonly count: number,
    private readonly src: VectorSource,
    private sender: VectorSender,
  ) {
    this.reportedMasked = new Uint8Array(count).fill(1);
    this.reportedMsg = new Uint32Array(count * 3);
    this.counters = {
      notifies: new Float64Array(count),
      sent: new Float64Array(count),
      firedWhileMasked: new Float64Array(count),
      coalesced: new Float64Array(count),
      deliveredAfterUnmask: new Float64Array(count),
    };
  }

  setSender(sender: VectorSender): void {
    this.sender = sender;
  }

  /**
   * Install (or remove, with null) the notifier. Like QEMU's msix_set_vector_notifiers, the
   * new notifier hears unmasked(v) for every vector that is unmasked now, and a removed one
   * hears masked(v) for them, so its view always matches the registers.
   */
  setNotifier(n: VectorNotifier | null): void {
    const old = this.notifier;
    for (let v = 0; v < this.count; v++) if (!this.reportedMasked[v]) old?.masked(v);
    this.notifier = n;
    for (let v = 0; v < this.count; v++) if (!this.reportedMasked[v]) n?.unmasked(v, this.src.message(v));
  }

  /** The device signals vector `v` (caller has range-checked it). */
  notify(v: number): void {
    this.counters.notifies[v]!++;
    if (this.src.isMasked(v)) {
      this.counters.firedWhileMasked[v]!++;
      if (this.src.isPending(v)) this.counters.coalesced[v]!++;
      else this.src.setPendingBit(v, true);
      return;
    }
    this.send(v);
  }

  /** Re-evaluate one vector after its registers (or a global control bit) changed. */
  refresh(v: number): void {
    const masked = this.src.isMasked(v);
    const wasMasked = this.reportedMasked[v] === 1;
    if (masked !== wasMasked) {
      this.reportedMasked[v] = masked ? 1 : 0;
      if (masked) {
        this.notifier?.masked(v);
        return;
      }
      const msg = this.remember(v);
      this.notifier?.unmasked(v, msg);
      if (this.src.isPending(v)) {
        this.src.setPendingBit(v, false);
        this.counters.deliveredAfterUnmask[v]!++;
        this.send(v);
      }
      return;
    }
    if (!masked) {
      const msg = this.src.message(v);
      const at = v * 3;
      const r = this.reportedMsg;
      if (r[at] !== msg.addressLo >>> 0 || r[at + 1] !== msg.addressHi >>> 0 || r[at + 2] !== msg.data >>> 0) {
        this.remember(v);
        this.notifier?.messageChanged(v, msg);
      }
    }
  }

  refreshAll(): void {
    for (let v = 0; v < this.count; v++) this.refresh(v);
  }

  /** Last effective mask reported to the notifier. */
  reportedMaskState(v: number): boolean {
    return this.reportedMasked[v] === 1;
  }

  stats(v: number): VectorCounters {
    const c = this.counters;
    return {
      notifies: c.notifies[v]!,
      sent: c.sent[v]!,
      firedWhileMasked: c.firedWhileMasked[v]!,
      coalesced: c.coalesced[v]!,
      deliveredAfterUnmask: c.deliveredAfterUnmask[v]!,
    };
  }

  private remember(v: number): MsiMessage {
    const msg = this.src.message(v);
    const at = v * 3;
    this.reportedMsg[at] = msg.addressLo;
    this.reportedMsg[at + 1] = msg.addressHi;
    this.reportedMsg[at + 2] = msg.data;
    return msg;
  }

  private send(v: number): void {
    this.counters.sent[v]!++;
    this.sender.send(v, this.src.message(v));
  }
}
