// The contract between the machine and a PCI device implementation (virtio-pci over a
// vhost-user device process, irq-lab, ...). The machine creates the device from its profile
// entry, adds `fn` to the host bridge, assigns BARs firmware-style, then calls start()
// (spawn and connect device processes) before any vCPU runs. A device whose process dies is
// reported through ctx.onFailure and marked failed; the VM keeps running.
import type { PciFunction } from '../pci/pci-function.js';
import type { InterruptManager, InterruptSourceStats } from '../irq/interrupt-manager.js';
import type { GuestRam } from '../kvm/guest-ram.js';
import type { MemoryLayout } from '../memory/layout.js';
import type { Vm } from '../kvm/vm.js';

export interface PciDeviceContext {
  /** Unique instance name ("irq-lab0", "virtio-blk0"), used as interrupt provenance. */
  name: string;
  vm: Vm;
  interrupts: InterruptManager;
  ram: GuestRam;
  layout: MemoryLayout;
  /** Folder for sockets of this VM's device processes. */
  runDir: string;
  log(line: string): void;
  onFailure(reason: string): void;
  /**
   * The GSI (IOAPIC input) the device's INTx pin is routed to, once its function is on the
   * host bridge (valid from start()); undefined when the function has no pin. A device
   * process that drives INTx itself creates its own IntxInterruptGroup on this GSI.
   */
  intxGsi?(): number | undefined;
  /** xen-hvm machines: the PIRQ layer's MSI → PIRQ part, for bindMsix (msix-binding.ts). */
  xenMsi?: import('../xen/pirq/msi-pirq.js').MsiPirq;
}

export type PciDeviceState = 'created' | 'running' | 'failed' | 'stopped';

export interface PciDevice {
  readonly name: string;
  readonly fn: PciFunction;
  readonly state: PciDeviceState;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Restart a failed device's process (the guest sees the device again). */
  restart?(): Promise<void>;
  /** Interrupt sources of this device (one row per vector or pin). */
  interruptStats(): InterruptSourceStats[];
  /** Device-specific counters for the statistics views (latency histogram, I/O counts...). */
  deviceStats?(): Record<string, number | number[]>;
}
