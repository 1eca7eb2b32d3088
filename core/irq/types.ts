// Interrupt-source interfaces shared by device models and the interrupt fabric. A device
// holds an IrqLine per pin it drives and never knows whether the line ends in KVM's
// in-kernel PIC/IOAPIC, our userspace IOAPIC, or a Xen PIRQ hook.

/** A wire from a device to an interrupt controller input (ISA IRQ or IOAPIC pin). */
export interface IrqLine {
  /** Level-triggered devices drive the level; edge devices call set(true) then set(false). */
  set(level: boolean): void;
}

/** An x86 MSI message as written by a device (address/data as in Intel SDM 11.11). */
export interface MsiMessage {
  addressLo: number;
  addressHi: number;
  data: number;
}

/** Sink for MSI messages (KVM_SIGNAL_MSI, an irqfd route, or a Xen PIRQ hook). */
export interface MsiSink {
  signalMsi(msg: MsiMessage): void;
}

export const NullIrqLine: IrqLine = { set: () => {} };
