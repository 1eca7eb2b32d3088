// Register offsets and bit definitions of a PCI function's configuration space, shared by the
// config-space model, BARs, capabilities and the host bridge. Numbers and names follow
// PCI Local Bus Specification 3.0 chapter 6 (the same values as Linux's
// include/uapi/linux/pci_regs.h); the 4 KiB extended space is PCI Express Base 4.0 §7.2.

/** Conventional (PCI 3.0 §6.1) and PCI Express extended (PCIe §7.2.2) config space sizes. */
export const PCI_CONFIG_SIZE = 0x100;
export const PCIE_CONFIG_SIZE = 0x1000;

/** Type 0 header (PCI 3.0 §6.1, figure 6-1). */
export const REG = {
  vendorId: 0x00, // u16 RO
  deviceId: 0x02, // u16 RO
  command: 0x04, // u16
  status: 0x06, // u16
  revisionId: 0x08, // u8 RO
  progIf: 0x09, // u8 RO (class code bits 7:0)
  subclass: 0x0a, // u8 RO
  classCode: 0x0b, // u8 RO (base class)
  cacheLineSize: 0x0c, // u8 RW
  latencyTimer: 0x0d, // u8 (RO 0 here, as PCIe §7.5.1.1.6 makes it)
  headerType: 0x0e, // u8 RO
  bist: 0x0f, // u8 (RO 0: BIST not capable)
  bar0: 0x10, // six u32 BARs, 0x10-0x27
  cardbusCis: 0x28, // RO 0
  subsystemVendorId: 0x2c, // u16 RO
  subsystemId: 0x2e, // u16 RO
  romAddress: 0x30, // RO 0: no expansion ROM
  capabilitiesPtr: 0x34, // u8 RO
  interruptLine: 0x3c, // u8 RW scratch for software (PCI 3.0 §6.2.4)
  interruptPin: 0x3d, // u8 RO, 1 = INTA# .. 4 = INTD#, 0 = none
  minGnt: 0x3e, // RO 0
  maxLat: 0x3f, // RO 0
} as const;

export const BAR_COUNT = 6;

/** Command register bits (PCI 3.0 §6.2.2, figure 6-2). */
export const CMD_IO = 1 << 0;
export const CMD_MEMORY = 1 << 1;
export const CMD_BUS_MASTER = 1 << 2;
export const CMD_PARITY = 1 << 6;
export const CMD_SERR = 1 << 8;
export const CMD_INTX_DISABLE = 1 << 10;
/** Bits software can change; special cycles, MWI, VGA snoop and fast back-to-back are hardwired 0. */
export const CMD_WRITABLE = CMD_IO | CMD_MEMORY | CMD_BUS_MASTER | CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE;

/** Status register bits (PCI 3.0 §6.2.3, figure 6-3). */
export const STATUS_INTERRUPT = 1 << 3; // RO: the function's INTx level, whether or not disabled
export const STATUS_CAP_LIST = 1 << 4; // RO: capabilities pointer at 0x34 is valid
export const STATUS_MASTER_PARITY = 1 << 8; // RW1C
export const STATUS_SIG_TARGET_ABORT = 1 << 11; // RW1C
export const STATUS_RCV_TARGET_ABORT = 1 << 12; // RW1C
export const STATUS_RCV_MASTER_ABORT = 1 << 13; // RW1C
export const STATUS_SIG_SYSTEM_ERROR = 1 << 14; // RW1C
export const STATUS_DETECTED_PARITY = 1 << 15; // RW1C
export const STATUS_W1C =
  STATUS_MASTER_PARITY | STATUS_SIG_TARGET_ABORT | STATUS_RCV_TARGET_ABORT | STATUS_RCV_MASTER_ABORT | STATUS_SIG_SYSTEM_ERROR | STATUS_DETECTED_PARITY;

/** Header type register (PCI 3.0 §6.2.1): layout in bits 6:0, multi-function in bit 7. */
export const HEADER_TYPE_NORMAL = 0x00;
export const HEADER_TYPE_MULTIFUNCTION = 0x80;

/** BAR low bits (PCI 3.0 §6.2.5.1, figures 6-4 and 6-5). */
export const BAR_SPACE_IO = 1 << 0;
export const BAR_MEM_TYPE_64 = 0b10 << 1;
export const BAR_MEM_PREFETCH = 1 << 3;
export const BAR_IO_FLAG_BITS = 0b11;
export const BAR_MEM_FLAG_BITS = 0b1111;

/** Capability IDs (PCI 3.0 appendix H; PCI Code and ID Assignment §2). */
export const CAP_ID = { pm: 0x01, msi: 0x05, vendor: 0x09, pcie: 0x10, msix: 0x11 } as const;
/** Standard capabilities live after the header; pointers are dword aligned (PCI 3.0 §6.7). */
export const CAP_AREA_START = 0x40;
export const CAP_PTR_MASK = 0xfc;

/** Interrupt pins as the Interrupt Pin register numbers them. */
export const INTX_PIN = { none: 0, INTA: 1, INTB: 2, INTC: 3, INTD: 4 } as const;
