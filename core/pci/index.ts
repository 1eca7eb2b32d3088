// PCI layer: config space, BARs, host bridge (CF8/CFC + ECAM), INTx routing, MSI and MSI-X.
export * from './regs.js';
export * from './errors.js';
export * from './config-space.js';
export * from './bar.js';
export * from './bar-mapper.js';
export * from './bar-region.js';
export * from './vectors.js';
export * from './msi.js';
export * from './msix.js';
export * from './msi-decode.js';
export * from './pci-function.js';
export * from './intx-routing.js';
export * from './host-bridge.js';
