// Unit tests of the virtio-pci transport without KVM: capability layout in config space,
// the common-configuration state machine driven like a driver would (and like a hostile one
// would), ISR, notifications, device config and the PCI_CFG access window.
import { describe, expect, it } from 'vitest';
import { CAP_ID } from '../pci/regs.js';
import type { QueueConfig } from './common-cfg.js';
import { CC, ISR_CONFIG, STATUS, VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_CAP } from './constants.js';
import { MSIX_BAR, NOTIFY_MULTIPLIER, REGION, VIRTIO_BAR, VirtioPciTransport, type TransportHooks } from './transport.js';

const VERSION_1 = 1n << 32n;

function rig(opts: { numQueues?: number; configSize?: number; featuresOk?: boolean; ringOk?: boolean; asyncReset?: boolean } = {}) {
  const events: string[] = [];
  let pendingReset: (() => void) | undefined;
  const hooks: TransportHooks = {
    featuresOk: (f) => (events.push(`features 0x${f.toString(16)}`), opts.featuresOk ?? true),
    ringOk: () => opts.ringOk ?? true,
    driverOk: (qs: readonly QueueConfig[]) => void events.push(`driver-ok ${qs.map((q) => `${q.index}:${q.size}@${q.desc.toString(16)}/v${q.vector}`).join(',')}`),
    queueEnabled: (q) => void events.push(`late-enable ${q.index}`),
    vectorChanged: (q) => void events.push(`vector ${q.index} ${q.vector}`),
    reset: (done) => {
      events.push('reset');
      if (opts.asyncReset) pendingReset = done;
      else done();
    },
    needsReset: (why) => void events.push(`needs-reset ${why}`),
    notify: (q) => void events.push(`notify ${q}`),
    configWritten: (o, d) => void events.push(`config-write ${o} ${[...d].join(',')}`),
  };
  const t = new VirtioPciTransport({ name: 't', deviceType: 2, classCode: 0x018000, numQueues: opts.numQueues ?? 2, configSize: opts.configSize ?? 8 }, hooks);
  t.common.setOffered(VERSION_1 | 1n << 9n);
  const bar = t.fn.bars.bar(VIRTIO_BAR)!.def.handler;
  const cc = {
    r: (o: number, s: number) => bar.read(REGION.common + o, s),
    w: (o: number, s: number, v: number) => bar.write(REGION.common + o, s, v),
  };
  return { t, bar, cc, events, finishReset: () => pendingReset?.() };
}

/** Driver init up to FEATURES_OK; returns whether FEATURES_OK stuck. */
function negotiate(cc: ReturnType<typeof rig>['cc'], lo: number, hi: number): boolean {
  cc.w(CC.deviceStatus, 1, 0);
  cc.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE);
  cc.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
  cc.w(CC.driverFeatureSelect, 4, 0);
  cc.w(CC.driverFeature, 4, lo);
  cc.w(CC.driverFeatureSelect, 4, 1);
  cc.w(CC.driverFeature, 4, hi);
  cc.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  return (cc.r(CC.deviceStatus, 1) & STATUS.FEATURES_OK) !== 0;
}

function setupQueue(cc: ReturnType<typeof rig>['cc'], q: number, size: number, base: number, vector: number): void {
  cc.w(CC.queueSelect, 2, q);
  cc.w(CC.queueSize, 2, size);
  cc.w(CC.queueMsixVector, 2, vector);
  cc.w(CC.queueDesc, 4, base);
  cc.w(CC.queueDesc + 4, 4, 0);
  cc.w(CC.queueDriver, 4, base + 0x1000);
  cc.w(CC.queueDevice, 4, base + 0x2000);
  cc.w(CC.queueEnable, 2, 1);
}

describe('virtio-pci capability layout', () => {
  it('has common, notify, ISR, device and PCI_CFG vendor capabilities plus MSI-X', () => {
    const { t } = rig();
    const cfg = t.fn.config;
    expect(cfg.get16(0)).toBe(0x1af4);
    expect(cfg.get16(2)).toBe(0x1042);
    expect(cfg.get8(8)).toBeGreaterThanOrEqual(1);
    const caps = cfg.capabilities();
    const vendor = caps.filter((c) => c.id === CAP_ID.vendor).map((c) => ({
      type: cfg.get8(c.offset + 3), bar: cfg.get8(c.offset + 4), offset: cfg.get32(c.offset + 8), length: cfg.get32(c.offset + 12), len: cfg.get8(c.offset + 2),
    }));
    expect(vendor.map((v) => v.type)).toEqual([VIRTIO_PCI_CAP.common, VIRTIO_PCI_CAP.notify, VIRTIO_PCI_CAP.isr, VIRTIO_PCI_CAP.device, VIRTIO_PCI_CAP.pciCfg]);
    expect(vendor[0]).toMatchObject({ bar: VIRTIO_BAR, offset: REGION.common, length: 0x38, len: 16 });
    expect(vendor[1]).toMatchObject({ bar: VIRTIO_BAR, offset: REGION.notify, len: 20 });
    const notifyCap = caps.filter((c) => c.id === CAP_ID.vendor)[1]!.offset;
    expect(cfg.get32(notifyCap + 16)).toBe(NOTIFY_MULTIPLIER);
    expect(vendor[3]).toMatchObject({ offset: REGION.device, length: 8 });
    const msix = caps.find((c) => c.id === CAP_ID.msix)!;
    expect(cfg.get16(msix.offset + 2) & 0x7ff).toBe(2); // 3 vectors: config + 2 queues
    expect(cfg.get32(msix.offset + 4) & 7).toBe(MSIX_BAR);
  });

  it('leaves out the device cfg capability when there is no device config (rng)', () => {
    const { t } = rig({ configSize: 0, numQueues: 1 });
    const types = t.fn.config.capabilities().filter((c) => c.id === CAP_ID.vendor).map((c) => t.fn.config.get8(c.offset + 3));
    expect(types).not.toContain(VIRTIO_PCI_CAP.device);
  });

  it('serves BAR bytes through the PCI_CFG window and refuses bad lengths', () => {
    const { t } = rig();
    const cfg = t.fn.config;
    const win = cfg.capabilities().filter((c) => c.id === CAP_ID.vendor).find((c) => cfg.get8(c.offset + 3) === VIRTIO_PCI_CAP.pciCfg)!.offset;
    cfg.write(win + 4, 1, VIRTIO_BAR);
    cfg.write(win + 8, 4, REGION.common + CC.numQueues);
    cfg.write(win + 12, 4, 2);
    expect(cfg.read(win + 16, 4)).toBe(2);
    cfg.write(win + 12, 4, 3); // not 1, 2 or 4
    expect(cfg.read(win + 16, 4)).toBe(0);
    cfg.write(win + 4, 1, 5); // no such BAR
    cfg.write(win + 12, 4, 4);
    expect(cfg.read(win + 16, 4)).toBe(0);
  });
});

describe('virtio-pci common configuration', () => {
  it('runs the driver init sequence and reports the queues at DRIVER_OK', () => {
    const { cc, events } = rig();
    cc.w(CC.deviceFeatureSelect, 4, 1);
    expect(cc.r(CC.deviceFeature, 4)).toBe(1);
    cc.w(CC.deviceFeatureSelect, 4, 0);
    expect(cc.r(CC.deviceFeature, 4)).toBe(1 << 9);
    expect(negotiate(cc, 1 << 9, 1)).toBe(true);
    expect(cc.r(CC.numQueues, 2)).toBe(2);
    cc.w(CC.msixConfig, 2, 0);
    expect(cc.r(CC.msixConfig, 2)).toBe(0);
    setupQueue(cc, 0, 64, 0x10000, 1);
    expect(cc.r(CC.queueNotifyOff, 2)).toBe(0);
    expect(cc.r(CC.queueDesc, 4)).toBe(0x10000);
    cc.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
    expect(events).toEqual(['reset', `features 0x${(VERSION_1 | 1n << 9n).toString(16)}`, 'driver-ok 0:64@10000/v1']);
    expect(cc.r(CC.deviceStatus, 1)).toBe(15);
  });

  it('refuses FEATURES_OK without VERSION_1, with bits not offered, or out of order', () => {
    const a = rig();
    expect(negotiate(a.cc, 1 << 9, 0)).toBe(false); // no VERSION_1
    const b = rig();
    expect(negotiate(b.cc, 1 << 3, 1)).toBe(false); // bit 3 not offered
    const c = rig();
    c.cc.w(CC.driverFeatureSelect, 4, 5);
    c.cc.w(CC.driverFeature, 4, 1); // a word beyond the offer
    expect(negotiate(c.cc, 0, 1)).toBe(true); // reset cleared it
    c.cc.w(CC.deviceStatus, 1, 0);
    c.cc.w(CC.deviceStatus, 1, STATUS.FEATURES_OK); // without ACKNOWLEDGE | DRIVER
    expect(c.cc.r(CC.deviceStatus, 1)).toBe(0);
    c.cc.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK); // DRIVER_OK before FEATURES_OK
    expect(c.cc.r(CC.deviceStatus, 1)).toBe(3);
    const d = rig({ featuresOk: false }); // the back-end side says no
    expect(negotiate(d.cc, 0, 1)).toBe(false);
    expect(a.t.common.stats.refusedFeatures + b.t.common.stats.refusedFeatures + d.t.common.stats.refusedFeatures).toBe(3);
  });

  it('ignores feature writes after FEATURES_OK and queue writes after enable or DRIVER_OK', () => {
    const { cc, t, events } = rig();
    expect(negotiate(cc, 0, 1)).toBe(true);
    cc.w(CC.driverFeatureSelect, 4, 0);
    cc.w(CC.driverFeature, 4, 1 << 9);
    expect(t.common.negotiated).toBe(VERSION_1);
    setupQueue(cc, 0, 32, 0x20000, 1);
    cc.w(CC.queueSize, 2, 16);
    cc.w(CC.queueDesc, 4, 0x40000);
    expect(cc.r(CC.queueSize, 2)).toBe(32);
    expect(cc.r(CC.queueDesc, 4)).toBe(0x20000);
    cc.w(CC.queueEnable, 2, 0); // 1.1: drivers must not disable
    expect(cc.r(CC.queueEnable, 2)).toBe(1);
    cc.w(CC.deviceStatus, 1, 15);
    cc.w(CC.queueSelect, 2, 1);
    cc.w(CC.queueSize, 2, 8); // after DRIVER_OK
    expect(cc.r(CC.queueSize, 2)).toBe(256);
    cc.w(CC.deviceStatus, 1, 1); // clearing bits
    expect(cc.r(CC.deviceStatus, 1)).toBe(15);
    expect(t.common.stats.ignoredWrites).toBeGreaterThanOrEqual(6);
    cc.w(CC.queueEnable, 2, 1); // late enable of queue 1: lenient, reported
    expect(events.at(-1)).toBe('late-enable 1');
    cc.w(CC.queueMsixVector, 2, 2); // re-targeting a running queue is passed on
    expect(events.at(-1)).toBe('vector 1 2');
  });

  it('answers hostile sizes, vectors and selectors architecturally', () => {
    const { cc, t } = rig();
    cc.w(CC.queueSelect, 2, 0);
    for (const bad of [0, 3, 100, 512, 0xffff]) cc.w(CC.queueSize, 2, bad);
    expect(cc.r(CC.queueSize, 2)).toBe(256);
    expect(t.common.stats.badQueueSizes).toBe(5);
    cc.w(CC.queueMsixVector, 2, 3); // table has 3 entries: 0..2
    expect(cc.r(CC.queueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    cc.w(CC.msixConfig, 2, 0x7ff);
    expect(cc.r(CC.msixConfig, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    cc.w(CC.queueSelect, 2, 9); // no such queue
    expect(cc.r(CC.queueSize, 2)).toBe(0);
    cc.w(CC.queueSize, 2, 4);
    cc.w(CC.queueEnable, 2, 1);
    // wrong widths and offsets
    expect(cc.r(CC.deviceStatus, 4)).toBe(0);
    expect(cc.r(CC.queueSelect + 1, 1)).toBe(0);
    expect(cc.r(0x100, 4)).toBe(0);
    cc.w(CC.numQueues, 2, 99);
    expect(cc.r(CC.numQueues, 2)).toBe(2);
    cc.w(CC.deviceFeature, 2, 5);
    cc.w(CC.queueDesc, 2, 5);
    cc.w(CC.queueDesc, 4, NaN);
    expect(t.common.stats.badAccesses).toBeGreaterThanOrEqual(5);
    // a 64-bit address beyond 2^53 is kept as written but never usable
    cc.w(CC.queueSelect, 2, 1);
    cc.w(CC.queueDesc + 4, 4, 0xffffffff);
    expect(cc.r(CC.queueDesc + 4, 4)).toBe(0xffffffff);
    expect(Number.isNaN(t.common.queues[1]!.desc)).toBe(true);
  });

  it('sets DEVICE_NEEDS_RESET for an unusable ring at DRIVER_OK and recovers on reset', () => {
    const { cc, t, events } = rig({ ringOk: false });
    cc.w(CC.msixConfig, 2, 0);
    expect(negotiate(cc, 0, 1)).toBe(true);
    cc.w(CC.msixConfig, 2, 0);
    setupQueue(cc, 0, 16, 0x10000, 1);
    cc.w(CC.deviceStatus, 1, 15);
    expect(cc.r(CC.deviceStatus, 1) & STATUS.DEVICE_NEEDS_RESET).toBeTruthy();
    expect(events.some((e) => e.startsWith('needs-reset queue 0'))).toBe(true);
    expect(t.common.stats.badRings).toBe(1);
    cc.w(CC.deviceStatus, 1, 0);
    expect(cc.r(CC.deviceStatus, 1)).toBe(0);
    cc.w(CC.queueSelect, 2, 0);
    expect(cc.r(CC.queueEnable, 2)).toBe(0);
    expect(cc.r(CC.queueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
  });

  it('keeps device_status non-zero until the back-end finished the reset, ignoring writes meanwhile', () => {
    const { cc, t, finishReset } = rig({ asyncReset: true });
    cc.w(CC.deviceStatus, 1, STATUS.ACKNOWLEDGE);
    cc.w(CC.deviceStatus, 1, 0);
    expect(cc.r(CC.deviceStatus, 1)).toBe(STATUS.ACKNOWLEDGE);
    cc.w(CC.deviceStatus, 1, 3);
    cc.w(CC.queueSelect, 2, 1);
    expect(cc.r(CC.queueSelect, 2)).toBe(0);
    finishReset();
    expect(cc.r(CC.deviceStatus, 1)).toBe(0);
    expect(t.common.stats.ignoredWrites).toBe(2);
  });
});

describe('virtio-pci ISR, notify and device config', () => {
  it('raises config interrupts through ISR (read clears) and bumps config_generation', () => {
    const { t, bar, cc } = rig();
    t.configChanged();
    expect(cc.r(CC.configGeneration, 1)).toBe(1);
    expect(bar.read(REGION.isr, 1)).toBe(ISR_CONFIG);
    expect(bar.read(REGION.isr, 1)).toBe(0);
    expect(bar.read(REGION.isr, 4)).toBe(0); // wrong width
    expect(t.msix.isPending(0)).toBe(false); // no config vector programmed
  });

  it('forwards notifications of existing queues only', () => {
    const { bar, events, t } = rig();
    bar.write(REGION.notify + NOTIFY_MULTIPLIER, 2, 1);
    bar.write(REGION.notify + 2, 2, 0); // between two queues' registers
    bar.write(REGION.notify + 7 * NOTIFY_MULTIPLIER, 2, 7);
    expect(events).toEqual(['notify 1']);
    expect(t.stats.badNotifies).toBe(2);
  });

  it('reads the device config cache and passes writes on, within bounds', () => {
    const { t, bar, events } = rig();
    t.config.set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(bar.read(REGION.device, 4)).toBe(0x04030201);
    expect(bar.read(REGION.device + 6, 2)).toBe(0x0807);
    expect(bar.read(REGION.device + 6, 4)).toBe(0); // past the end
    expect(bar.read(REGION.device + 1, 2)).toBe(0); // misaligned
    bar.write(REGION.device + 4, 1, 0x1ff);
    expect(events).toEqual(['config-write 4 255']);
  });
});
