// The guest-visible side of a modern virtio-pci device (virtio 1.1 §4.1): a PCI function
// whose vendor-specific capabilities (§4.1.4) point into BAR4, and whose MSI-X table and
// PBA live in BAR1 (one vector for configuration changes plus one per queue).
//
// BAR4 (64-bit memory, 16 KiB)            BAR1 (32-bit memory, 4 KiB)
//   0x0000 common configuration (§4.1.4.3)   0x000 MSI-X table
//   0x1000 ISR status (§4.1.4.5)             0x800 MSI-X PBA
//   0x2000 device configuration (§4.1.4.6)
//   0x3000 notifications (§4.1.4.4): queue q at 0x3000 + q * NOTIFY_MULTIPLIER
// plus a VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.8) into the BARs through config space.
//
// Data flow: guest MMIO -> BAR handlers -> CommonCfg (state machine) / ISR / device-config
// bytes (a cache the owner fills) / notify (the slow path; with KVM_IOEVENTFD registered on
// notifyAddress(q) the kernel signals the back-end's kick eventfd and we never see it). The
// owner (vhost-device.ts) supplies the hooks that talk to the back-end.
import type { IoDevice } from '../bus/types.js';
import { BarRegionMap } from '../pci/bar-region.js';
import { PciFunction } from '../pci/pci-function.js';
import type { MsixCapability } from '../pci/msix.js';
import { CAP_ID } from '../pci/regs.js';
import { CommonCfg, type CommonCfgHooks } from './common-cfg.js';
import {
  COMMON_CFG_SIZE,
  ISR_CONFIG,
  VIRTIO_CAP_FIELD,
  VIRTIO_CAP_LEN,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_NOTIFY_CAP_LEN,
  VIRTIO_NOTIFY_MULTIPLIER_FIELD,
  VIRTIO_PCI_CAP,
  VIRTIO_PCI_CFG_CAP_LEN,
  VIRTIO_PCI_CFG_DATA_FIELD,
  VIRTIO_PCI_MAX_QUEUE_SIZE,
  VIRTIO_PCI_MODERN_DEVICE_BASE,
  VIRTIO_PCI_MODERN_REVISION,
  VIRTIO_PCI_VENDOR_ID,
} from './constants.js';

export const VIRTIO_BAR = 4;
export const MSIX_BAR = 1;
export const VIRTIO_BAR_SIZE = 0x4000;
export const MSIX_BAR_SIZE = 0x1000;
export const REGION = { common: 0x0000, isr: 0x1000, device: 0x2000, notify: 0x3000 } as const;
export const REGION_SIZE = 0x1000;
export const NOTIFY_MULTIPLIER = 4;
const MSIX_PBA_OFFSET = 0x800;
/** §4.1.2.1: non-transitional devices SHOULD use a subsystem device ID of 0x40 or higher. */
const SUBSYSTEM_ID = 0x1100;

export interface TransportHooks extends Omit<CommonCfgHooks, 'vectorCount'> {
  /** A queue notification that reached the VMM (no ioeventfd, or an odd access size). */
  notify(queue: number): void;
  /** The driver wrote device configuration bytes. */
  configWritten(offset: number, data: Uint8Array): void;
}

export interface TransportOptions {
  name: string;
  /** Virtio device type (§5: 2 blk, 3 console, 4 rng). */
  deviceType: number;
  classCode: number;
  numQueues: number;
  /** Size of the device-specific configuration (0: no device cfg capability). */
  configSize: number;
  maxQueueSize?: number;
}

export class VirtioPciTransport {
  readonly fn: PciFunction;
  readonly common: CommonCfg;
  readonly msix: MsixCapability;
  readonly numQueues: number;
  /** Device configuration as the guest reads it (the owner fills it from the back-end). */
  readonly config: Uint8Array;
  private isr = 0;
  readonly stats = { notifies: 0, badNotifies: 0, isrReads: 0, configReads: 0, configWrites: 0, badAccesses: 0, configInterrupts: 0 };

  constructor(
    readonly opts: TransportOptions,
    private readonly hooks: TransportHooks,
  ) {
    this.numQueues = opts.numQueues;
    this.config = new Uint8Array(opts.configSize);
    this.common = new CommonCfg(opts.numQueues, opts.maxQueueSize ?? VIRTIO_PCI_MAX_QUEUE_SIZE, { ...hooks, vectorCount: () => this.msix.vectors });
    const virtioBar = new BarRegionMap(`${opts.name}.virtio`, VIRTIO_BAR_SIZE)
      .add(REGION.common, REGION_SIZE, { name: 'virtio-common', read: (o, s) => this.common.read(o, s), write: (o, s, v) => this.common.write(o, s, v) })
      .add(REGION.isr, REGION_SIZE, { name: 'virtio-isr', read: (o, s) => this.readIsr(o, s), write: () => void this.stats.badAccesses++ })
      .add(REGION.notify, REGION_SIZE, { name: 'virtio-notify', read: () => 0, write: (o) => this.notifyWrite(o) });
    if (opts.configSize > 0) {
      virtioBar.add(REGION.device, REGION_SIZE, { name: 'virtio-device-cfg', read: (o, s) => this.readConfig(o, s), write: (o, s, v) => this.writeConfig(o, s, v) });
    }
    const msixBar = new BarRegionMap(`${opts.name}.msix`, MSIX_BAR_SIZE);
    this.fn = new PciFunction({
      name: opts.name,
      header: {
        vendorId: VIRTIO_PCI_VENDOR_ID,
        deviceId: VIRTIO_PCI_MODERN_DEVICE_BASE + opts.deviceType,
        classCode: opts.classCode,
        revision: VIRTIO_PCI_MODERN_REVISION,
        subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
        subsystemId: SUBSYSTEM_ID,
      },
      bars: [
        { index: MSIX_BAR, kind: 'mem32', size: MSIX_BAR_SIZE, handler: msixBar },
        { index: VIRTIO_BAR, kind: 'mem64', size: VIRTIO_BAR_SIZE, handler: virtioBar },
      ],
    });
    this.msix = this.fn.addMsix(
      { vectors: 1 + opts.numQueues, tableBar: MSIX_BAR, tableOffset: 0, pbaBar: MSIX_BAR, pbaOffset: MSIX_PBA_OFFSET },
      { sender: { send: () => undefined } },
    );
    for (const r of this.msix.regions()) msixBar.add(r.offset, r.length, r.device);
    this.addCap(VIRTIO_PCI_CAP.common, REGION.common, COMMON_CFG_SIZE);
    const notify = this.addCap(VIRTIO_PCI_CAP.notify, REGION.notify, opts.numQueues * NOTIFY_MULTIPLIER, VIRTIO_NOTIFY_CAP_LEN);
    this.fn.config.set32(notify + VIRTIO_NOTIFY_MULTIPLIER_FIELD, NOTIFY_MULTIPLIER);
    this.addCap(VIRTIO_PCI_CAP.isr, REGION.isr, 1);
    if (opts.configSize > 0) this.addCap(VIRTIO_PCI_CAP.device, REGION.device, opts.configSize);
    this.addPciCfgCap({ [VIRTIO_BAR]: virtioBar, [MSIX_BAR]: msixBar });
  }

  /** Guest-physical address of queue q's notification register (undefined while BAR4 is unmapped). */
  notifyAddress(q: number): number | undefined {
    const range = this.fn.bars.bar(VIRTIO_BAR)?.range;
    return range ? range.base + REGION.notify + q * NOTIFY_MULTIPLIER : undefined;
  }

  /** Run cb after every guest write that may move BAR4 (BAR registers, command register). */
  onBarWrite(cb: () => void): void {
    this.fn.config.watch(0x04, 2, { afterWrite: cb });
    this.fn.config.watch(0x10 + VIRTIO_BAR * 4, 8, { afterWrite: cb });
  }

  /** Device configuration changed (§4.1.5.3): ISR bit, generation, config vector. */
  configChanged(): void {
    this.common.bumpGeneration();
    this.raiseConfigInterrupt();
  }

  /** Configuration-change interrupt without a config change (DEVICE_NEEDS_RESET, §2.1.2). */
  raiseConfigInterrupt(): void {
    this.stats.configInterrupts++;
    this.isr |= ISR_CONFIG;
    const v = this.common.configVector;
    if (v !== VIRTIO_MSI_NO_VECTOR) this.msix.notify(v);
  }

  private addCap(type: number, offset: number, length: number, capLen = VIRTIO_CAP_LEN): number {
    const cfg = this.fn.config;
    const at = cfg.addCapability(CAP_ID.vendor, capLen);
    cfg.set8(at + VIRTIO_CAP_FIELD.len, capLen);
    cfg.set8(at + VIRTIO_CAP_FIELD.cfgType, type);
    cfg.set8(at + VIRTIO_CAP_FIELD.bar, VIRTIO_BAR);
    cfg.set32(at + VIRTIO_CAP_FIELD.offset, offset);
    cfg.set32(at + VIRTIO_CAP_FIELD.length, length);
    return at;
  }

  /**
   * §4.1.4.8: the driver writes bar, offset and length (1, 2 or 4) and then reads or writes
   * pci_cfg_data to access that BAR location. Anything else reads 0 and writes nothing.
   */
  private addPciCfgCap(bars: Record<number, IoDevice>): void {
    const cfg = this.fn.config;
    const at = this.addCap(VIRTIO_PCI_CAP.pciCfg, 0, 0, VIRTIO_PCI_CFG_CAP_LEN);
    cfg.set8(at + VIRTIO_CAP_FIELD.bar, 0);
    cfg.setWriteMask(at + VIRTIO_CAP_FIELD.bar, 1, 0xff);
    cfg.setWriteMask(at + VIRTIO_CAP_FIELD.offset, 4, 0xffffffff);
    cfg.setWriteMask(at + VIRTIO_CAP_FIELD.length, 4, 0xffffffff);
    cfg.setWriteMask(at + VIRTIO_PCI_CFG_DATA_FIELD, 4, 0xffffffff);
    const target = (): { dev: IoDevice; offset: number; len: number } | undefined => {
      const dev = bars[cfg.get8(at + VIRTIO_CAP_FIELD.bar)];
      const offset = cfg.get32(at + VIRTIO_CAP_FIELD.offset);
      const len = cfg.get32(at + VIRTIO_CAP_FIELD.length);
      if (!dev || (len !== 1 && len !== 2 && len !== 4) || offset % len !== 0) return undefined;
      return { dev, offset, len };
    };
    const data = at + VIRTIO_PCI_CFG_DATA_FIELD;
    cfg.watch(data, 4, {
      beforeRead: () => {
        const t = target();
        cfg.set32(data, t ? t.dev.read(t.offset, t.len) : 0);
      },
      afterWrite: () => {
        const t = target();
        if (t) t.dev.write(t.offset, t.len, cfg.get32(data) & (t.len === 4 ? 0xffffffff : (1 << (8 * t.len)) - 1));
        else this.stats.badAccesses++;
      },
    });
  }

  private readIsr(offset: number, size: number): number {
    if (offset !== 0 || size !== 1) {
      this.stats.badAccesses++;
      return 0;
    }
    this.stats.isrReads++;
    const v = this.isr;
    this.isr = 0; // §4.1.4.5.1: reading the ISR status resets it
    return v;
  }

  private notifyWrite(offset: number): void {
    const q = offset / NOTIFY_MULTIPLIER;
    if (!Number.isInteger(q) || q >= this.numQueues) {
      this.stats.badNotifies++;
      return;
    }
    this.stats.notifies++;
    this.hooks.notify(q);
  }

  private readConfig(offset: number, size: number): number {
    if (!this.validConfigAccess(offset, size)) return 0;
    this.stats.configReads++;
    let v = 0;
    for (let i = 0; i < size; i++) v += this.config[offset + i]! * 2 ** (8 * i);
    return v;
  }

  private writeConfig(offset: number, size: number, value: number): void {
    if (!this.validConfigAccess(offset, size)) return;
    this.stats.configWrites++;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
    this.hooks.configWritten(offset, data);
  }

  private validConfigAccess(offset: number, size: number): boolean {
    const ok = (size === 1 || size === 2 || size === 4 || size === 8) && offset % size === 0 && offset + size <= this.config.length;
    if (!ok) this.stats.badAccesses++;
    return ok;
  }
}
