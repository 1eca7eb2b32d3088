// Upcall delivery (xen-hvm-interfaces.md §1.5, §3 step 5): how a vCPU learns that
// evtchn_upcall_pending went 0 -> 1 in its vcpu_info.
//   1. per-vCPU vector (HVMOP_set_evtchn_upcall_vector): fixed, edge MSI to the vCPU's APIC
//      ID through KVM_SIGNAL_MSI (LAPIC delivery, needs EOI; Xen vlapic_set_irq);
//   2. else the global vector (HVM_PARAM_CALLBACK_IRQ type 2): the same MSI;
//   3. else, for vCPU0 only, the GSI / PCI INTx callback: a level line that is high while
//      vCPU0's evtchn_upcall_pending is set. The injector records the wanted level in the
//      shared state and notifies; the host thread's CallbackLine drives the interrupt line.
//      vCPU0's thread samples the flag after each exit (sampleCallbackLevel) and lowers the
//      wanted level once the guest cleared it, as Xen does on every VM exit.
// The upcall mask is not consulted (HVM). Every injection also wakes the vCPU from
// SCHEDOP_block/poll.
//
// Threading: inject()/markPending() run on any thread (KVM_SIGNAL_MSI on the VM fd is
// thread-safe; the level is an Atomics word). CallbackLine runs on the host thread.
import type { MsiMessage } from '../irq/types.js';
import { CallbackKind, D, type XenState } from './xen-state.js';
import type { XenStats } from './xen-stats.js';

/** x86 MSI address: 0xFEE in [31:20], destination APIC ID in [19:12] (physical, fixed). */
const MSI_ADDRESS_BASE = 0xfee00000;
const MSI_DEST_SHIFT = 12;

export function upcallMsi(apicId: number, vector: number): MsiMessage {
  return { addressLo: (MSI_ADDRESS_BASE | ((apicId & 0xff) << MSI_DEST_SHIFT)) >>> 0, addressHi: 0, data: vector & 0xff };
}

export class UpcallInjector {
  constructor(
    private readonly state: XenState,
    private readonly stats: XenStats,
    private readonly signalMsi: (msg: MsiMessage) => void,
  ) {}

  /** Deliver the upcall for `vcpu` (its upcall_pending just went 0 -> 1). */
  inject(vcpu: number): void {
    const s = this.state;
    this.stats.upcall(vcpu);
    const vec = s.upcallVector(vcpu);
    const kind = s.get(D.CALLBACK_KIND) as CallbackKind;
    if (vec) {
      this.signalMsi(upcallMsi(s.apicId(vcpu), vec));
    } else if (kind === CallbackKind.Vector) {
      this.signalMsi(upcallMsi(s.apicId(vcpu), s.get(D.CALLBACK_VALUE)));
    } else if (kind === CallbackKind.Gsi && vcpu === 0) {
      this.setLevel(1);
    }
    s.wake(vcpu);
  }

  /**
   * Set `vcpu`'s evtchn_upcall_pending and inject on 0 -> 1. Returns false when the vCPU
   * has no vcpu_info yet (nothing to mark).
   */
  markPending(vcpu: number): boolean {
    const off = this.state.upcallPendingOffset(vcpu);
    if (off < 0) return false;
    if (Atomics.exchange(this.state.mem.bytes, off, 1) === 0) this.inject(vcpu);
    return true;
  }

  /** Re-deliver if the vCPU already has an upcall pending (after a new vector is set). */
  reassert(vcpu: number): void {
    if (this.state.upcallPending(vcpu)) this.inject(vcpu);
  }

  /** vCPU0's thread, after each exit: lower the GSI/INTx callback once the flag is clear. */
  sampleCallbackLevel(): void {
    const s = this.state;
    if (s.get(D.CALLBACK_LEVEL) === 1 && !s.upcallPending(0)) this.setLevel(0);
  }

  private setLevel(level: 0 | 1): void {
    const w = this.state.words;
    if (Atomics.exchange(w, D.CALLBACK_LEVEL, level) === level) return;
    Atomics.add(w, D.CALLBACK_SEQ, 1);
    Atomics.notify(w, D.CALLBACK_SEQ);
  }
}

/**
 * Host thread: follows the wanted callback level and drives the line of the configured
 * GSI (`line(gsi)` gives the machine's interrupt line for it). Also re-samples on EOI.
 */
export class CallbackLine {
  private running = true;
  private driven?: { gsi: number; level: boolean };

  constructor(
    private readonly state: XenState,
    private readonly line: (gsi: number) => { set(level: boolean): void },
  ) {
    void this.loop();
  }

  private async loop(): Promise<void> {
    const w = this.state.words;
    while (this.running) {
      const seq = Atomics.load(w, D.CALLBACK_SEQ);
      this.update();
      const r = Atomics.waitAsync(w, D.CALLBACK_SEQ, seq);
      if (r.async) await r.value;
    }
  }

  /** Drive the line to the wanted level (also called on EOI and when the callback changes). */
  update(): void {
    const s = this.state;
    const gsiKind = s.get(D.CALLBACK_KIND) === CallbackKind.Gsi;
    const want = gsiKind && s.get(D.CALLBACK_LEVEL) === 1 && s.upcallPending(0);
    if (!want && s.get(D.CALLBACK_LEVEL) === 1) s.set(D.CALLBACK_LEVEL, 0);
    const gsi = s.get(D.CALLBACK_VALUE);
    if (this.driven && (this.driven.gsi !== gsi || !gsiKind) && this.driven.level) {
      this.line(this.driven.gsi).set(false);
      this.driven = undefined;
    }
    if (!gsiKind) return;
    if (this.driven?.level !== want) {
      this.line(gsi).set(want);
      this.driven = { gsi, level: want };
    }
  }

  dispose(): void {
    this.running = false;
    Atomics.add(this.state.words, D.CALLBACK_SEQ, 1);
    Atomics.notify(this.state.words, D.CALLBACK_SEQ);
  }
}
