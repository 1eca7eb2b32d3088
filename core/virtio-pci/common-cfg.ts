// The common configuration structure of a modern virtio-pci device (virtio 1.1 §4.1.4.3)
// and the device status state machine (§2.1, §3.1): feature windows, status, MSI-X vector
// mapping and per-queue setup. Pure register logic with no I/O: effects go to the owner
// through CommonCfgHooks (transport.ts wires them to a vhost-user back-end).
//
// Data flow: guest MMIO -> read()/write() -> registers; FEATURES_OK asks hooks.featuresOk;
// DRIVER_OK validates the enabled queues and calls hooks.driverOk; writing 0 calls
// hooks.reset(done) and device_status keeps reading non-zero until done() (§4.1.4.3.2: the
// driver waits for 0), so a back-end still using the rings is stopped before re-use.
//
// The guest is hostile. Accesses that are not the field's natural width (§4.1.3.1; 64-bit
// fields also as two 32-bit halves) read 0 and drop writes. Writes the spec forbids in the
// current state (features after FEATURES_OK, queue fields of an enabled queue or after
// DRIVER_OK, clearing status bits, disabling a queue) are ignored. Feature bits we did not
// offer, or no VERSION_1, leave FEATURES_OK clear (§2.2.2). A bad ring at DRIVER_OK sets
// DEVICE_NEEDS_RESET (§2.1.2). Vectors outside the MSI-X table read back NO_VECTOR
// (§4.1.5.1.2). Everything is counted in `stats`.
import { isValidQueueSize } from '../virtio/virtqueue.js';
import { CC, STATUS, VIRTIO_F_VERSION_1, VIRTIO_MSI_NO_VECTOR } from './constants.js';

const TWO_32 = 2 ** 32;

/** One queue's registers. Ring addresses are kept as the guest wrote them (two dwords each);
 * desc/driver/device are NaN when an address is beyond 2^53 (never RAM). */
export class QueueConfig {
  size: number;
  vector = VIRTIO_MSI_NO_VECTOR;
  enabled = false;
  /** desc lo/hi, driver lo/hi, device lo/hi. */
  readonly raw = new Uint32Array(6);

  constructor(
    readonly index: number,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  get desc(): number {
    return this.addr(0);
  }
  get driver(): number {
    return this.addr(2);
  }
  get device(): number {
    return this.addr(4);
  }

  private addr(i: number): number {
    const hi = this.raw[i + 1]!;
    return hi >= 2 ** 21 ? NaN : hi * TWO_32 + this.raw[i]!;
  }
}

export interface CommonCfgHooks {
  /** The driver asks for FEATURES_OK with `features` (already a subset of the offer). */
  featuresOk(features: bigint): boolean;
  /** Is this ring (size and the three addresses) usable? Called for each enabled queue at DRIVER_OK. */
  ringOk(q: QueueConfig): boolean;
  /** DRIVER_OK was accepted: start the enabled queues. */
  driverOk(queues: readonly QueueConfig[]): void;
  /** A queue was enabled after DRIVER_OK (lenient; 1.1 drivers do it before). */
  queueEnabled(q: QueueConfig): void;
  /** An enabled queue's MSI-X vector changed after DRIVER_OK. */
  vectorChanged(q: QueueConfig): void;
  /** Stop everything; call done() when the device may be re-initialised. */
  reset(done: () => void): void;
  /** DEVICE_NEEDS_RESET got set: the owner sends the configuration-change interrupt. */
  needsReset(reason: string): void;
  /** MSI-X table size (vectors >= it are refused). */
  vectorCount(): number;
}

export interface CommonCfgStats {
  badAccesses: number;
  ignoredWrites: number;
  refusedFeatures: number;
  refusedVectors: number;
  badQueueSizes: number;
  badRings: number;
  resets: number;
  needsReset: number;
}

type Field = { offset: number; width: 1 | 2 | 4 | 8 };
const FIELDS: Field[] = [
  { offset: CC.deviceFeatureSelect, width: 4 },
  { offset: CC.deviceFeature, width: 4 },
  { offset: CC.driverFeatureSelect, width: 4 },
  { offset: CC.driverFeature, width: 4 },
  { offset: CC.msixConfig, width: 2 },
  { offset: CC.numQueues, width: 2 },
  { offset: CC.deviceStatus, width: 1 },
  { offset: CC.configGeneration, width: 1 },
  { offset: CC.queueSelect, width: 2 },
  { offset: CC.queueSize, width: 2 },
  { offset: CC.queueMsixVector, width: 2 },
  { offset: CC.queueEnable, width: 2 },
  { offset: CC.queueNotifyOff, width: 2 },
  { offset: CC.queueDesc, width: 8 },
  { offset: CC.queueDriver, width: 8 },
  { offset: CC.queueDevice, width: 8 },
];

/** The field an access hits and the byte offset inside it (0 or 4 for a 64-bit half). */
function fieldOf(offset: number, size: number): { f: Field; part: number } | undefined {
  for (const f of FIELDS) {
    if (offset === f.offset && size === f.width) return { f, part: 0 };
    if (f.width === 8 && size === 4 && (offset === f.offset || offset === f.offset + 4)) return { f, part: offset - f.offset };
  }
  return undefined;
}

export class CommonCfg {
  private offered = 0n;
  private dfSelect = 0;
  private gfSelect = 0;
  private driverFeatures = 0n;
  /** Bits the driver wrote in feature words beyond the offer (kept apart: never acked). */
  private driverExtra = false;
  private msixConfigVector = VIRTIO_MSI_NO_VECTOR;
  private statusBits = 0;
  private generation = 0;
  private select = 0;
  private resetting = false;
  readonly queues: QueueConfig[];
  readonly stats: CommonCfgStats = { badAccesses: 0, ignoredWrites: 0, refusedFeatures: 0, refusedVectors: 0, badQueueSizes: 0, badRings: 0, resets: 0, needsReset: 0 };

  constructor(
    numQueues: number,
    private readonly maxQueueSize: number,
    private readonly hooks: CommonCfgHooks,
  ) {
    this.queues = Array.from({ length: numQueues }, (_, index) => freshQueue(index, maxQueueSize));
  }

  /** The features offered to the driver (set before the guest runs and after a back-end restart). */
  setOffered(features: bigint): void {
    this.offered = features;
  }
  get offeredFeatures(): bigint {
    return this.offered;
  }
  /** Features the driver accepted (valid once FEATURES_OK is set). */
  get negotiated(): bigint {
    return this.driverFeatures;
  }
  get status(): number {
    return this.statusBits;
  }
  get configVector(): number {
    return this.msixConfigVector;
  }
  get configGeneration(): number {
    return this.generation;
  }
  get driverOk(): boolean {
    return (this.statusBits & STATUS.DRIVER_OK) !== 0 && !this.resetting;
  }

  /** Device-side config change (§4.1.4.3: config_generation changes with the config). */
  bumpGeneration(): void {
    this.generation = (this.generation + 1) & 0xff;
  }

  /** The device hit an error it cannot recover from without a reset (§2.1.2). */
  setNeedsReset(reason: string): void {
    if (this.statusBits & STATUS.DEVICE_NEEDS_RESET) return;
    this.stats.needsReset++;
    this.statusBits |= STATUS.DEVICE_NEEDS_RESET;
    this.hooks.needsReset(reason);
  }

  read(offset: number, size: number): number {
    const hit = fieldOf(offset, size);
    if (!hit) {
      this.stats.badAccesses++;
      return 0;
    }
    if (hit.f.width !== 8) return this.get(hit.f.offset);
    const q = this.queues[this.select];
    return q ? this.getAddr(q, hit.f.offset, size === 8 ? -1 : hit.part) : 0;
  }

  write(offset: number, size: number, value: number): void {
    const hit = fieldOf(offset, size);
    if (!hit || !Number.isFinite(value) || value < 0) {
      this.stats.badAccesses++;
      return;
    }
    const v = size === 8 ? Math.floor(value) : value >>> 0 & (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff);
    if (this.resetting) {
      this.stats.ignoredWrites++;
      return;
    }
    if (hit.f.offset === CC.deviceStatus) return this.writeStatus(v);
    this.set(hit.f.offset, hit.f.width === 8 && size === 4 ? { part: hit.part, v } : { part: -1, v });
  }

  private get(at: number): number {
    const q = this.queues[this.select];
    switch (at) {
      case CC.deviceFeatureSelect:
        return this.dfSelect;
      case CC.deviceFeature:
        return this.dfSelect < 2 ? Number((this.offered >> BigInt(32 * this.dfSelect)) & 0xffffffffn) : 0;
      case CC.driverFeatureSelect:
        return this.gfSelect;
      case CC.driverFeature:
        return this.gfSelect < 2 ? Number((this.driverFeatures >> BigInt(32 * this.gfSelect)) & 0xffffffffn) : 0;
      case CC.msixConfig:
        return this.msixConfigVector;
      case CC.numQueues:
        return this.queues.length;
      case CC.deviceStatus:
        return this.statusBits;
      case CC.configGeneration:
        return this.generation;
      case CC.queueSelect:
        return this.select;
      case CC.queueNotifyOff:
        return q ? q.index : 0;
    }
    if (!q) return 0; // §4.1.4.3.1: a queue that does not exist reads queue_size 0
    switch (at) {
      case CC.queueSize:
        return q.size;
      case CC.queueMsixVector:
        return q.vector;
      case CC.queueEnable:
        return q.enabled ? 1 : 0;
    }
    return 0;
  }

  /** A 64-bit queue address field: `part` 0 low dword, 4 high dword, -1 the whole (size 8). */
  private getAddr(q: QueueConfig, at: number, part: number): number {
    const i = at === CC.queueDesc ? 0 : at === CC.queueDriver ? 2 : 4;
    if (part === 0) return q.raw[i]!;
    if (part === 4) return q.raw[i + 1]!;
    return q.raw[i + 1]! * TWO_32 + q.raw[i]!;
  }

  private set(at: number, w: { part: number; v: number }): void {
    const { v } = w;
    const st = this.statusBits;
    switch (at) {
      case CC.deviceFeatureSelect:
        this.dfSelect = v;
        return;
      case CC.driverFeatureSelect:
        this.gfSelect = v;
        return;
      case CC.driverFeature:
        // §2.2.2/§3.1.1: features are written between DRIVER and FEATURES_OK.
        if (st & STATUS.FEATURES_OK) return this.ignored();
        if (this.gfSelect >= 2) {
          if (v !== 0) this.driverExtra = true;
          return;
        }
        {
          const shift = BigInt(32 * this.gfSelect);
          this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(v) << shift);
        }
        return;
      case CC.msixConfig:
        this.msixConfigVector = this.mapVector(v);
        return;
      case CC.queueSelect:
        this.select = v;
        return;
      case CC.deviceFeature:
      case CC.numQueues:
      case CC.configGeneration:
      case CC.queueNotifyOff:
        return this.ignored();
    }
    const q = this.queues[this.select];
    if (!q) return this.ignored();
    if (at === CC.queueMsixVector) {
      const old = q.vector;
      q.vector = this.mapVector(v);
      if (q.vector !== old && q.enabled && this.driverOk) this.hooks.vectorChanged(q);
      return;
    }
    // §4.1.4.3.2: queue fields are written before the queue is enabled, and before DRIVER_OK.
    if (q.enabled || (st & STATUS.DRIVER_OK && at !== CC.queueEnable)) return this.ignored();
    switch (at) {
      case CC.queueSize:
        if (!isValidQueueSize(v) || v > q.maxSize) {
          this.stats.badQueueSizes++;
          return;
        }
        q.size = v;
        return;
      case CC.queueEnable:
        if (v !== 1) return this.ignored(); // 1.1: the driver MUST NOT write 0
        q.enabled = true;
        if (this.driverOk) this.hooks.queueEnabled(q);
        return;
      case CC.queueDesc:
      case CC.queueDriver:
      case CC.queueDevice: {
        const i = at === CC.queueDesc ? 0 : at === CC.queueDriver ? 2 : 4;
        if (w.part < 0) {
          q.raw[i] = v % TWO_32;
          q.raw[i + 1] = Math.min(Math.floor(v / TWO_32), 0xffffffff);
        } else {
          q.raw[i + (w.part === 0 ? 0 : 1)] = v;
        }
        return;
      }
    }
  }

  private ignored(): void {
    this.stats.ignoredWrites++;
  }

  private mapVector(v: number): number {
    if (v === VIRTIO_MSI_NO_VECTOR) return v;
    if (v >= this.hooks.vectorCount()) {
      this.stats.refusedVectors++;
      return VIRTIO_MSI_NO_VECTOR;
    }
    return v;
  }

  private writeStatus(v: number): void {
    if (v === 0) return this.startReset();
    const old = this.statusBits;
    if (old & ~v & ~STATUS.DEVICE_NEEDS_RESET) this.stats.ignoredWrites++; // clearing bits: kept
    let next = old | (v & ~STATUS.DEVICE_NEEDS_RESET);
    const added = next & ~old;
    if (added & STATUS.FEATURES_OK && !this.acceptFeatures(old)) next &= ~STATUS.FEATURES_OK;
    if (added & STATUS.DRIVER_OK && !(next & STATUS.FEATURES_OK)) {
      this.stats.ignoredWrites++;
      next &= ~STATUS.DRIVER_OK;
    }
    this.statusBits = next;
    if (added & STATUS.DRIVER_OK && next & STATUS.DRIVER_OK) this.startDevice();
  }

  private acceptFeatures(old: number): boolean {
    const ok =
      (old & (STATUS.ACKNOWLEDGE | STATUS.DRIVER)) === (STATUS.ACKNOWLEDGE | STATUS.DRIVER) &&
      !this.driverExtra &&
      (this.driverFeatures & ~this.offered) === 0n &&
      (this.driverFeatures & (1n << BigInt(VIRTIO_F_VERSION_1))) !== 0n &&
      this.hooks.featuresOk(this.driverFeatures);
    if (!ok) this.stats.refusedFeatures++;
    return ok;
  }

  private startDevice(): void {
    const enabled = this.queues.filter((q) => q.enabled);
    const bad = enabled.find((q) => !this.hooks.ringOk(q));
    if (bad) {
      this.stats.badRings++;
      this.setNeedsReset(`queue ${bad.index}: ring of ${bad.size} at desc 0x${bad.desc.toString(16)} driver 0x${bad.driver.toString(16)} device 0x${bad.device.toString(16)} is not usable`);
      return;
    }
    this.hooks.driverOk(enabled);
  }

  private startReset(): void {
    this.stats.resets++;
    if (this.resetting) return;
    this.resetting = true;
    this.hooks.reset(() => this.finishReset());
  }

  private finishReset(): void {
    if (!this.resetting) return;
    this.resetting = false;
    this.statusBits = 0;
    this.dfSelect = 0;
    this.gfSelect = 0;
    this.driverFeatures = 0n;
    this.driverExtra = false;
    this.msixConfigVector = VIRTIO_MSI_NO_VECTOR;
    this.select = 0;
    for (let i = 0; i < this.queues.length; i++) this.queues[i] = freshQueue(i, this.maxQueueSize);
  }
}

function freshQueue(index: number, maxSize: number): QueueConfig {
  return new QueueConfig(index, maxSize);
}
