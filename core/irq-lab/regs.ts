// irq-lab constants shared by the VMM side and the device process: PCI identity, the BAR0
// register map and the value limits of docs/irq-lab.md. Pure data.

export const IRQ_LAB_VENDOR_ID = 0x1b36;
export const IRQ_LAB_DEVICE_ID = 0x0100;
/** Class 0xff0000: unassigned. */
export const IRQ_LAB_CLASS = 0xff0000;
export const IRQ_LAB_REVISION = 1;
/** Interrupt Pin register value: INTA#. */
export const IRQ_LAB_INTX_PIN = 1;

/** "IRQL" read little-endian. */
export const IRQ_LAB_MAGIC = 0x4c515249;
export const IRQ_LAB_VERSION = 1;
export const BAR0_SIZE = 4096;

/** BAR0 register offsets (docs/irq-lab.md, "BAR0: registers"). */
export const REG = {
  id: 0x000,
  version: 0x004,
  numVectors: 0x008,
  features: 0x00c,
  intx: 0x010,
  intxAuto: 0x014,
  fire: 0x020,
  burstCount: 0x024,
  burst: 0x028,
  fireRange: 0x02c,
  seqBaseLo: 0x030,
  seqBaseHi: 0x034,
  ack: 0x040,
  ackIntx: 0x044,
  firedLo: 0x050,
  firedHi: 0x054,
  ackedLo: 0x058,
  ackedHi: 0x05c,
} as const;

export const FEATURE_MSIX = 1 << 0;
export const FEATURE_MSI = 1 << 1;
export const FEATURE_INTX = 1 << 2;

export const BURST_MIN = 1;
export const BURST_MAX = 1_000_000;
/** INTX_AUTO work items one write may queue (same bound as a burst). */
export const INTX_AUTO_MAX = BURST_MAX;
/** The sequence page holds one 32-bit counter per vector below this. */
export const SEQ_PAGE_VECTORS = 1024;
export const SEQ_PAGE_SIZE = 4096;

/** MSI-X vectors when the profile gives no layout. */
export const DEFAULT_MSIX_VECTORS = 32;
export const DEFAULT_MSIX_LAYOUT = { tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x8000 } as const;

/** How a raise reaches the guest; decided by the VMM from the function's enable bits. */
export const RaiseKind = { msix: 0, msi: 1, intx: 2 } as const;
export type RaiseKind = (typeof RaiseKind)[keyof typeof RaiseKind];
export const RAISE_KIND_NAMES = ['msix', 'msi', 'intx'] as const;
