// GSI routing view: owner provenance, fixed routes of both irqchip modes, decoded MSI routes.
import { describe, expect, it } from 'vitest';
import * as K from '../kvm/constants.js';
import { GsiRouter } from './gsi-router.js';
import { describeOwner, fixedRouteViews, routingTableView } from './routing-view.js';


describe('routing view', () => {
  it('names owners by PCI address, device and vector or pin', () => {
    const bdfOf = (d: string) => (d === 'irq-lab0' ? '00:03.0' : undefined);
    expect(describeOwner({ device: 'irq-lab0', vector: 5 }, bdfOf)).toBe('pci 00:03.0 irq-lab0 v5');
    expect(describeOwner({ device: 'irq-lab0/msi', vector: 1 }, bdfOf)).toBe('pci 00:03.0 irq-lab0/msi v1');
    expect(describeOwner({ device: 'pci-intx-gsi16', pin: 1 }, bdfOf)).toBe('pci-intx-gsi16 pin 1');
  });

  it('shows irqchip routes by chip and pin, split-irqchip pins as MSI routes of the IOAPIC', () => {
    expect(fixedRouteViews([{ gsi: 0, type: 'irqchip', irqchip: K.KVM_IRQCHIP_IOAPIC, pin: 2 }, { gsi: 3, type: 'irqchip', irqchip: K.KVM_IRQCHIP_PIC_MASTER, pin: 3 }], false))
      .toEqual([{ gsi: 0, kind: 'irqchip', target: 'ioapic pin 2' }, { gsi: 3, kind: 'irqchip', target: 'pic-master pin 3' }]);
    const [split] = fixedRouteViews([{ gsi: 4, type: 'msi', msg: { addressLo: 0xfee01000, addressHi: 0, data: 0x24 } }], true);
    expect(split).toMatchObject({ gsi: 4, kind: 'msi', owner: 'ioapic pin 4', dest: 1, vector: 0x24, target: 'ioapic pin 4 (userspace IOAPIC)' });
  });

  it('lists the router\'s committed fixed routes and MSI routes with decoded messages, skips routes without one, sorted by GSI', () => {
    const router = new GsiRouter({ setGsiRouting: () => {} });
    router.setFixedRoutes([{ gsi: 2, type: 'irqchip', irqchip: K.KVM_IRQCHIP_IOAPIC, pin: 2 }]);
    const [a, b] = [router.allocate({ device: 'lab', vector: 0 })!, router.allocate({ device: 'lab', vector: 1 })!];
    router.setMsiRoute(b, { addressLo: 0xfee02000, addressHi: 0, data: 0x41 });
    router.setMsiRoute(b, { addressLo: 0xfee02000, addressHi: 0, data: 0x42 });
    const v = routingTableView({ router, split: false, bdfOf: () => '00:04.0' });
    expect(a).toBe(24);
    expect(v.entries).toEqual([
      { gsi: 2, kind: 'irqchip', target: 'ioapic pin 2' },
      { gsi: 25, kind: 'msi', owner: 'pci 00:04.0 lab v1', updates: 2, addressLo: 0xfee02000, addressHi: 0, data: 0x42, dest: 2, vector: 0x42 },
    ]);
    expect(v.stats).toEqual(router.stats());
    expect(v.stats).toMatchObject({ entries: 2, fixedEntries: 1, msiRoutes: 2, commits: 3 });
  });

  it('shows a split irqchip\'s pins as the router holds them', () => {
    const router = new GsiRouter({ setGsiRouting: () => {} });
    router.setFixedRoutes([{ gsi: 4, type: 'msi', msg: { addressLo: 0xfee00000, addressHi: 0, data: 0x34 } }]);
    expect(routingTableView({ router, split: true, bdfOf: () => undefined }).entries).toEqual([
      { gsi: 4, kind: 'msi', target: 'ioapic pin 4 (userspace IOAPIC)', owner: 'ioapic pin 4', addressLo: 0xfee00000, addressHi: 0, data: 0x34, dest: 0, vector: 0x34 },
    ]);
  });
});
