// Registers the PCI device types this build offers with the machine's device factory.
// Each import below adds one type (see core/machine/pci-devices.ts).
import '../virtio-pci/device-types.js';
export {};
import '../irq-lab/register.js';
