// Read-only view of KVM's GSI routing table for the UI and the control socket, read from the
// GsiRouter that owns it: the irqchip's fixed entries as committed to KVM (kernel irqchip:
// the PC wiring to the PICs and the IOAPIC; split irqchip: one MSI route per unmasked pin of
// our IOAPIC) followed by the MSI routes the router handed out, each with its owner's
// provenance and the decoded message (Intel SDM §11.11). Nothing here changes a route.
import type { RouteView, RoutingTableView } from '../api/contract.js';
import * as K from '../kvm/constants.js';
import type { GsiRoute } from '../kvm/vm.js';
import { decodeMsi } from '../pci/msi-decode.js';
import type { GsiRouter } from './gsi-router.js';
import type { InterruptSourceId } from './interrupt-manager.js';
import type { MsiMessage } from './types.js';

const IRQCHIP_NAMES: Record<number, string> = {
  [K.KVM_IRQCHIP_PIC_MASTER]: 'pic-master',
  [K.KVM_IRQCHIP_PIC_SLAVE]: 'pic-slave',
  [K.KVM_IRQCHIP_IOAPIC]: 'ioapic',
};

/** "pci 00:03.0 irq-lab0 v5", "irq-lab0/msi v1", "pci-intx-gsi16 pin 1". */
export function describeOwner(owner: InterruptSourceId, bdfOf: (device: string) => string | undefined): string {
  const base = owner.device.split('/')[0]!;
  const bdf = bdfOf(base);
  const what = owner.vector !== undefined ? `v${owner.vector}` : owner.pin !== undefined ? `pin ${owner.pin}` : '';
  return [bdf ? `pci ${bdf}` : '', owner.device, what].filter(Boolean).join(' ');
}

function msiFields(msg: MsiMessage): Pick<RouteView, 'addressLo' | 'addressHi' | 'data' | 'dest' | 'vector'> {
  const d = decodeMsi(msg);
  return { addressLo: msg.addressLo >>> 0, addressHi: msg.addressHi >>> 0, data: msg.data >>> 0, dest: d.destinationId, vector: d.vector };
}

/** The irqchip's fixed routes, as KVM holds them. */
export function fixedRouteViews(routes: readonly GsiRoute[], split: boolean): RouteView[] {
  return routes.map((r) =>
    r.type === 'irqchip'
      ? { gsi: r.gsi, kind: 'irqchip', target: `${IRQCHIP_NAMES[r.irqchip] ?? `irqchip ${r.irqchip}`} pin ${r.pin}` }
      : { gsi: r.gsi, kind: 'msi', target: split ? `ioapic pin ${r.gsi} (userspace IOAPIC)` : undefined, owner: `ioapic pin ${r.gsi}`, ...msiFields(r.msg) },
  );
}

/** What the view reads from the router. */
export type RoutingSource = Pick<GsiRouter, 'fixedRoutes' | 'routes' | 'stats'>;

export function routingTableView(opts: {
  router: RoutingSource;
  /** Split irqchip: the fixed MSI routes are our userspace IOAPIC's pins. */
  split: boolean;
  bdfOf(device: string): string | undefined;
}): RoutingTableView {
  const { router } = opts;
  const msi: RouteView[] = router.routes()
    .filter((r) => r.msg !== null)
    .map((r) => ({ gsi: r.gsi, kind: 'msi', owner: describeOwner(r.owner, opts.bdfOf), updates: r.updates, ...msiFields(r.msg!) }));
  const entries = [...fixedRouteViews(router.fixedRoutes(), opts.split), ...msi].sort((a, b) => a.gsi - b.gsi || a.kind.localeCompare(b.kind));
  return { entries, stats: { ...router.stats() } };
}
