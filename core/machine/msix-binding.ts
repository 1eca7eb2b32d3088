// Glue between a function's MSI-X capability (the architectural table and PBA, core/pci)
// and an MSI interrupt group (irqfd routes, masking, fallback, core/irq). Ownership:
// - the group owns events that arrive on a vector's eventfd (device processes signal it
//   directly); while the vector is masked it latches them and mirrors the pending state
//   into the PBA through setPending. On unmask it delivers them once and clears the mirror
//   from inside notifier.unmasked, so the MSI-X engine finds no pending bit and sends
//   nothing: one delivery, never two.
// - the MSI-X engine owns events the VMM raises with msix.notify(v) (in-process models);
//   unmasked ones go out through the sender (group.trigger), masked ones set the PBA and
//   the engine sends them on unmask.
// PBA reads first poll the group, so a guest polling the PBA sees eventfd events too.
// Xen HVM (xen-hvm machines pass `xen`): the PIRQ layer snoops every vector report (so
// EVTCHNOP_bind_pirq can find and unmask a vector holding a PIRQ-form message) and the
// sender delivers PIRQ-form messages to their bound port instead of the group; the routing
// layer keeps such vectors off irqfd routes (KvmIrqContext.userspaceMsi), so eventfd signals
// end in the wrapped vm.signalMsi and reach the port too.
import type { MsixCapability } from '../pci/msix.js';
import type { MsiInterruptGroup } from '../irq/interrupt-manager.js';
import type { VectorNotifier } from '../pci/vectors.js';
import { msixSource, type MsiPirq } from '../xen/pirq/msi-pirq.js';

/** What bindMsix needs on a xen-hvm machine: the PIRQ layer's MSI part and the device's name. */
export interface XenMsixBinding {
  msi: MsiPirq;
  device: string;
}

export function bindMsix(msix: MsixCapability, group: MsiInterruptGroup, xen?: XenMsixBinding): void {
  const notifier: VectorNotifier = {
    unmasked: (v, msg) => group.update(v, msg, false),
    masked: (v) => group.update(v, msix.message(v), true),
    messageChanged: (v, msg) => group.update(v, msg, false),
  };
  if (xen) {
    const src = msixSource(xen.device, msix);
    xen.msi.attach(src);
    msix.setNotifier(xen.msi.notifier(src, notifier));
    msix.setSender(xen.msi.sender({ send: (v) => group.trigger(v) }));
  } else {
    msix.setNotifier(notifier);
    msix.setSender({ send: (v) => group.trigger(v) });
  }
  msix.setPollHook((first, last) => {
    for (let v = first; v <= last; v++) if (msix.isMasked(v)) group.pollPending(v);
  });
  group.enable();
}

/** The PendingSink a group reports to, for the capability it will be bound to. */
export const pbaMirror =
  (msix: () => MsixCapability) =>
  (v: number, pending: boolean): void =>
    msix().setPending(v, pending);
