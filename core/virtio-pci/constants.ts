// Numbers of the modern (virtio 1.x, non-legacy) PCI transport, virtio 1.1 §4.1, and of the
// device status field (§2.1). Names follow Linux's include/uapi/linux/virtio_pci.h and
// virtio_config.h. Pure data; the register logic lives in common-cfg.ts and transport.ts.

/** §4.1.2.1: vendor 0x1af4; modern device IDs are 0x1040 + virtio device type. */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
export const VIRTIO_PCI_MODERN_DEVICE_BASE = 0x1040;
/** §4.1.2.1: revision ID 1 or higher marks a non-transitional device. */
export const VIRTIO_PCI_MODERN_REVISION = 1;

/** Virtio device types (§5). */
export const VIRTIO_ID = { blk: 2, console: 3, rng: 4 } as const;

/** §4.1.4: cfg_type of the vendor-specific (cap ID 0x09) virtio capabilities. */
export const VIRTIO_PCI_CAP = { common: 1, notify: 2, isr: 3, device: 4, pciCfg: 5 } as const;
/** §4.1.4 struct virtio_pci_cap: vndr, next, len, cfg_type, bar, id, padding[2], offset, length. */
export const VIRTIO_CAP_FIELD = { len: 2, cfgType: 3, bar: 4, id: 5, offset: 8, length: 12 } as const;
export const VIRTIO_CAP_LEN = 16;
/** §4.1.4.4 struct virtio_pci_notify_cap: the cap plus notify_off_multiplier at 16. */
export const VIRTIO_NOTIFY_CAP_LEN = 20;
export const VIRTIO_NOTIFY_MULTIPLIER_FIELD = 16;
/** §4.1.4.8 struct virtio_pci_cfg_cap: the cap plus pci_cfg_data[4] at 16. */
export const VIRTIO_PCI_CFG_CAP_LEN = 20;
export const VIRTIO_PCI_CFG_DATA_FIELD = 16;

/** §4.1.4.3 struct virtio_pci_common_cfg (offsets in the common configuration region). */
export const CC = {
  deviceFeatureSelect: 0x00, // le32 RW
  deviceFeature: 0x04, // le32 RO
  driverFeatureSelect: 0x08, // le32 RW
  driverFeature: 0x0c, // le32 RW
  msixConfig: 0x10, // le16 RW
  numQueues: 0x12, // le16 RO
  deviceStatus: 0x14, // u8 RW
  configGeneration: 0x15, // u8 RO
  queueSelect: 0x16, // le16 RW
  queueSize: 0x18, // le16 RW
  queueMsixVector: 0x1a, // le16 RW
  queueEnable: 0x1c, // le16 RW
  queueNotifyOff: 0x1e, // le16 RO
  queueDesc: 0x20, // le64 RW
  queueDriver: 0x28, // le64 RW
  queueDevice: 0x30, // le64 RW
} as const;
/** Size of the 1.1 common configuration structure. */
export const COMMON_CFG_SIZE = 0x38;

/** §2.1 device status bits. */
export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** §4.1.4.5 ISR status bits (read clears). */
export const ISR_QUEUE = 1 << 0;
export const ISR_CONFIG = 1 << 1;

/** §4.1.5.1.2.1 (and Linux): "no vector" for msix_config / queue_msix_vector. */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** §6 reserved feature bits the transport cares about. */
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24;
export const VIRTIO_F_ANY_LAYOUT = 27;
export const VIRTIO_F_RING_INDIRECT_DESC = 28;
export const VIRTIO_F_RING_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** Largest queue size we offer (the driver may pick any smaller power of two). */
export const VIRTIO_PCI_MAX_QUEUE_SIZE = 256;
