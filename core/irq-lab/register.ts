// Registers the irq-lab device type with the machine's PCI device factory (imported for
// its side effect by core/machine/pci-device-types.ts).
import { registerPciDevice } from '../machine/pci-devices.js';
import { IrqLabDevice, type IrqLabConfig } from './device.js';

registerPciDevice<IrqLabConfig>('irq-lab', (config, ctx) => new IrqLabDevice(config, ctx));
