// Device interfaces for the port-I/O and MMIO buses. A device sees offsets relative to the
// base of the range it registered and accesses of 1, 2, 4 (or 8, MMIO only) bytes. Values
// are unsigned numbers (bigint is avoided on the exit path: 8-byte MMIO is split by the bus).

export interface IoDevice {
  /** Short name for logs and statistics ("uart0", "ioapic"). */
  readonly name: string;
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface IoRange {
  base: number;
  length: number;
  device: IoDevice;
}
