// Glue between the irq-lab function's MSI capability and an MSI interrupt group, the MSI
// counterpart of core/machine/msix-binding.ts (same ownership rules: the group owns events
// that arrive on a vector's eventfd and mirrors a masked vector's latched event into the
// capability's Pending Bits register; it clears the bit itself when it delivers on unmask,
// so the vector engine never sends it a second time).
import type { MsiInterruptGroup, PendingSink } from '../irq/interrupt-manager.js';
import type { ConfigSpace } from '../pci/config-space.js';
import { msiLayout, type MsiCapability } from '../pci/msi.js';
import type { VectorNotifier } from '../pci/vectors.js';
import { msiSource, type MsiPirq } from '../xen/pirq/msi-pirq.js';

/** What bindMsi needs on a xen-hvm machine. */
export interface XenMsiBinding {
  msi: MsiPirq;
  device: string;
  cfg: ConfigSpace;
}


export function bindMsi(msi: MsiCapability, group: MsiInterruptGroup, xen?: XenMsiBinding): void {
  const notifier: VectorNotifier = {
    unmasked: (v, msg) => group.update(v, msg, false),
    masked: (v) => group.update(v, msi.message(v), true),
    messageChanged: (v, msg) => group.update(v, msg, false),
  };
  if (xen) {
    // xen-hvm: the PIRQ layer snoops PIRQ-form messages (unmask on bind_pirq) and delivers
    // them to their port; as for MSI-X (core/machine/msix-binding.ts).
    const src = msiSource(xen.device, msi, xen.cfg);
    xen.msi.attach(src);
    msi.setNotifier(xen.msi.notifier(src, notifier));
    msi.setSender(xen.msi.sender({ send: (v) => group.trigger(v) }));
  } else {
    msi.setNotifier(notifier);
    msi.setSender({ send: (v) => group.trigger(v) });
  }
  msi.setPollHook((first, last) => {
    for (let v = first; v <= last; v++) if (msi.isMasked(v)) group.pollPending(v);
  });
  group.enable();
}

/** The PendingSink for an MSI capability with per-vector masking (64-bit layout). */
export const msiPendingMirror =
  (cfg: ConfigSpace, msi: () => MsiCapability): PendingSink =>
  (v, pending) => {
    const at = msi().offset + msiLayout(true, true).pending!;
    const bits = cfg.get32(at);
    cfg.set32(at, (pending ? bits | (1 << v) : bits & ~(1 << v)) >>> 0);
  };
