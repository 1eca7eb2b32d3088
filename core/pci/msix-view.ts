// Read-only view of an MSI-X table for the UI and the control socket: entries [first,
// first + count) decoded straight from the capability's table and PBA (PCI 3.0 §6.8.2;
// message fields per Intel SDM §11.11 via msi-decode.ts), joined with the interrupt layer's
// per-vector statistics (path, GSI, counts). Reading never touches interrupt state: no PBA
// poll hook runs, so a view can be taken at any rate without disturbing delivery.
//
// Counts: `total` is what the source raised — the device's own per-vector count when it has
// one (a device process writing an irqfd reaches KVM without the VMM seeing it), otherwise
// the interrupt group's count. Masked-fire, coalesced and after-unmask counts add the group's
// (eventfd signals) and the vector engine's (VMM-raised notify) since the two never overlap.
import type { MsixEntryView, MsixTableView } from '../api/contract.js';
import type { InterruptSourceStats } from '../irq/interrupt-manager.js';
import type { MsiMessage } from '../irq/types.js';
import { decodeMsi } from './msi-decode.js';
import type { MsixCapability } from './msix.js';

export interface MsixViewSource {
  device: string;
  bdf: string;
  msix: MsixCapability;
  /** The interrupt group's row for vector v (InterruptSourceStats of the MSI-X group). */
  row(v: number): InterruptSourceStats | undefined;
  /** Raises the device itself counted for vector v, when it counts them. */
  raised?(v: number): number | undefined;
  /** Xen PIRQ of a message in the PIRQ encoding, or 0 (xen-hvm machines only). */
  pirqOf?(msg: MsiMessage): number;
  canFire: boolean;
}

/** Clamp a requested window to the table: first in [0, vectors), count in [0, vectors - first]. */
export function msixWindow(vectors: number, first: number, count: number): { first: number; count: number } {
  const f = Math.min(Math.max(0, Math.trunc(first)), Math.max(0, vectors - 1));
  return { first: f, count: Math.min(Math.max(0, Math.trunc(count)), vectors - f) };
}

export function msixEntryView(src: MsixViewSource, v: number): MsixEntryView {
  const { msix } = src;
  const msg = msix.message(v);
  const d = decodeMsi(msg);
  const row = src.row(v);
  const eng = msix.vectorStats(v);
  const raised = src.raised?.(v);
  const entry: MsixEntryView = {
    index: v,
    addressLo: msg.addressLo >>> 0,
    addressHi: msg.addressHi >>> 0,
    data: msg.data >>> 0,
    masked: msix.isMasked(v),
    pending: msix.isPending(v),
    dest: d.destinationId,
    vector: d.vector,
    destMode: d.destinationMode,
    deliveryMode: d.deliveryModeName,
    trigger: d.trigger,
    gsi: row?.gsi ?? null,
    path: row?.path ?? 'userspace',
    total: raised ?? row?.total ?? eng.sent,
    coalesced: (row?.coalesced ?? 0) + eng.coalesced,
    firedWhileMasked: (row?.firedWhileMasked ?? 0) + eng.firedWhileMasked,
    deliveredAfterUnmask: (row?.deliveredAfterUnmask ?? 0) + eng.deliveredAfterUnmask,
    hostWrites: msix.hostWrites(v),
  };
  const pirq = src.pirqOf?.(msg) ?? 0;
  if (pirq > 0) entry.pirq = pirq;
  return entry;
}

export function msixTableView(src: MsixViewSource, first = 0, count = 256): MsixTableView {
  const { msix } = src;
  const w = msixWindow(msix.vectors, first, count);
  const l = msix.layout;
  const entries: MsixEntryView[] = [];
  for (let v = w.first; v < w.first + w.count; v++) entries.push(msixEntryView(src, v));
  return {
    device: src.device,
    bdf: src.bdf,
    enabled: msix.enabled,
    functionMasked: msix.functionMasked,
    vectors: msix.vectors,
    tableBar: l.tableBar,
    tableOffset: l.tableOffset,
    pbaBar: l.pbaBar,
    pbaOffset: l.pbaOffset,
    first: w.first,
    entries,
    canFire: src.canFire,
  };
}
