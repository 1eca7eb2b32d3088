// Builds the PCI devices a profile lists. Each device type registers a factory here; the
// machine adds every device's function to the host bridge, assigns BARs, and starts the
// devices (their processes) before the vCPUs run.
import { MachineConfigError } from './errors.js';
import type { PciDeviceConfig } from './config.js';
import type { PciDevice, PciDeviceContext } from './pci-device.js';

export type PciDeviceFactory<T extends PciDeviceConfig = PciDeviceConfig> = (config: T, ctx: PciDeviceContext) => PciDevice;

const factories = new Map<PciDeviceConfig['type'], PciDeviceFactory>();

export function registerPciDevice<T extends PciDeviceConfig>(type: T['type'], factory: PciDeviceFactory<T>): void {
  factories.set(type, factory as PciDeviceFactory);
}

export function createPciDevice(config: PciDeviceConfig, ctx: PciDeviceContext): PciDevice {
  const factory = factories.get(config.type);
  if (!factory) throw new MachineConfigError(`PCI device type "${config.type}" is not available in this build; remove it from the profile`);
  return factory(config, ctx);
}
