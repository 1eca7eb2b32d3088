// Registers the PCI device types this build offers with the machine's device factory.
// Each import below adds one type (see core/machine/pci-devices.ts).
export {};
