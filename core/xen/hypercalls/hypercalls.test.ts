import { describe, expect, it } from 'vitest';
import * as E from '../errno.js';
import { HYPERVISOR_console_io, HYPERVISOR_event_channel_op, HYPERVISOR_hvm_op, HYPERVISOR_memory_op, HYPERVISOR_sched_op, HYPERVISOR_set_timer_op, HYPERVISOR_vcpu_op, HYPERVISOR_xen_version } from '../abi.js';
import { call, guestOf, mapSharedInfo, testDomain, vcpuEvtchnOf } from '../test-helpers.js';
import { xenVersionHandler } from './xen-version.js';
import { addToPhysmapHandler } from './memory-op.js';
import { hvmOpHandler, resolveCallback } from './hvm-op.js';
import { setTimerOpHandler, vcpuOpHandler } from './vcpu-op.js';
import { schedOpHostHandler, schedOpVcpuHandler } from './sched-op.js';
import { consoleIoHandler } from './console-io.js';
import { CallbackKind, D } from '../xen-state.js';
import type { HypercallCall } from '../abi.js';
import { hostEvtchn, VIRQ_TIMER } from '../evtchn-seam.js';

const BUF = 0x10000;
const SHINFO = 0x20000;
const VI = 0x30000;

function setup() {
  const d = testDomain(2);
  const g = guestOf(d.mem);
  const run = (h: { handle: (c: ReturnType<typeof call>, g: typeof guestOf extends (...a: never[]) => infer R ? R : never) => number }, nr: number, args: (number | bigint)[], o = {}) => h.handle(call(nr, args, o), g);
  return { d, g, run };
}

describe('xen_version', () => {
  it('version, features submap 0, errno paths', () => {
    const { d, run } = setup();
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [0, 0])).toBe(0x40011);
    d.mem.writeU32(BUF, 0);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [6, BUF])).toBe(0);
    expect(d.mem.readU32(BUF + 4)).toBe(0x70f);
    d.mem.writeU32(BUF, 1);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [6, BUF])).toBe(-E.EINVAL);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [6, 0xfee00000])).toBe(-E.EFAULT);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [6, 16 * 1024 * 1024 - 4])).toBe(-E.EFAULT);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [9, BUF])).toBe(-E.EPERM);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [77, BUF])).toBe(-E.ENOSYS);
    expect(run(xenVersionHandler, HYPERVISOR_xen_version, [7, 0])).toBe(4096);
  });
});

describe('memory_op add_to_physmap', () => {
  const physmap = (domid: number, space: number, idx: number, gpfn: number, long = true): Uint8Array => {
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, domid, true);
    dv.setUint32(4, space, true);
    if (long) {
      dv.setBigUint64(8, BigInt(idx), true);
      dv.setBigUint64(16, BigInt(gpfn), true);
    } else {
      dv.setUint32(8, idx, true);
      dv.setUint32(12, gpfn, true);
    }
    return b;
  };

  it('maps shared_info (64- and 32-bit layouts), checks domid, space, idx, RAM', () => {
    const { d, run } = setup();
    const h = addToPhysmapHandler(d);
    d.mem.write(BUF, physmap(5, 0, 0, SHINFO >> 12));
    expect(run(h, HYPERVISOR_memory_op, [7, BUF])).toBe(-E.ESRCH);
    d.mem.write(BUF, physmap(0x7ff0, 2, 0, SHINFO >> 12));
    expect(run(h, HYPERVISOR_memory_op, [7, BUF])).toBe(-E.EOPNOTSUPP);
    d.mem.write(BUF, physmap(0x7ff0, 0, 1, SHINFO >> 12));
    expect(run(h, HYPERVISOR_memory_op, [7, BUF])).toBe(-E.EINVAL);
    d.mem.write(BUF, physmap(0x7ff0, 0, 0, 0xfee00));
    expect(run(h, HYPERVISOR_memory_op, [7, BUF])).toBe(-E.EINVAL);
    expect(run(h, HYPERVISOR_memory_op, [7, 0xfee00000])).toBe(-E.EFAULT);
    expect(run(h, HYPERVISOR_memory_op, [3, BUF])).toBe(-E.ENOSYS);
    d.mem.fill(SHINFO, 4096, 0x5a);
    d.mem.write(BUF, physmap(0, 0, 0, SHINFO >> 12));
    expect(run(h, HYPERVISOR_memory_op, [7, BUF])).toBe(0);
    expect(d.state.sharedInfoGpa()).toBe(SHINFO);
    expect(d.mem.readU8(SHINFO)).toBe(0);
    expect(d.mem.readU32(SHINFO + 0xc00) % 2).toBe(0);
    expect(d.mem.readU32(SHINFO + 0xc04)).toBeGreaterThan(1_600_000_000);
    // 32-bit caller and layout: struct is 16 bytes, wallclock at 0x900
    d.state.set(D.LONG_MODE, 0);
    d.mem.write(BUF, physmap(0x7ff0, 0, 0, (SHINFO >> 12) + 1, false));
    expect(run(h, HYPERVISOR_memory_op, [7, BUF], { longMode: false })).toBe(0);
    expect(d.state.sharedInfoGpa()).toBe(SHINFO + 4096);
    expect(d.mem.readU32(SHINFO + 4096 + 0x904)).toBeGreaterThan(1_600_000_000);
  });
});

describe('hvm_op', () => {
  const param = (domid: number, index: number, value: bigint): Uint8Array => {
    const b = new Uint8Array(16);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, domid, true);
    dv.setUint32(4, index, true);
    dv.setBigUint64(8, value, true);
    return b;
  };

  it('decodes CALLBACK_IRQ forms like Xen', () => {
    const dom = { gsiCount: 24, intxGsi: (dev: number, pin: number) => (dev === 3 ? 16 + pin : undefined) };
    expect(resolveCallback(0n, dom)).toEqual({ kind: CallbackKind.None, value: 0 });
    expect(resolveCallback(9n, dom)).toEqual({ kind: CallbackKind.Gsi, value: 9 });
    expect(resolveCallback(30n, dom).kind).toBe(CallbackKind.None);
    expect(resolveCallback((1n << 56n) | (3n << 11n) | 1n, dom)).toEqual({ kind: CallbackKind.Gsi, value: 17 });
    expect(resolveCallback((2n << 56n) | 0xf3n, dom)).toEqual({ kind: CallbackKind.Vector, value: 0xf3 });
    expect(resolveCallback((2n << 56n) | 0x5n, dom).kind).toBe(CallbackKind.None);
    expect(resolveCallback(7n << 56n, dom).kind).toBe(CallbackKind.None);
  });

  it('set/get param, errnos, the CALLBACK_IRQ=1 quirk and the per-vCPU vector', () => {
    const { d, run } = setup();
    const h = hvmOpHandler(d);
    d.mem.write(BUF, param(0x7ff0, 0, 9n));
    expect(run(h, HYPERVISOR_hvm_op, [0, BUF])).toBe(0);
    expect(d.state.get(D.CALLBACK_KIND)).toBe(CallbackKind.Gsi);
    d.mem.write(BUF, param(3, 0, 0n));
    expect(run(h, HYPERVISOR_hvm_op, [1, BUF])).toBe(-E.ESRCH);
    d.mem.write(BUF, param(0x7ff0, 500, 0n));
    expect(run(h, HYPERVISOR_hvm_op, [0, BUF])).toBe(-E.EINVAL);
    d.mem.write(BUF, param(0x7ff0, 5, 0n));
    expect(run(h, HYPERVISOR_hvm_op, [1, BUF])).toBe(0);
    expect(d.mem.readU64(BUF + 8)).toBe(0n); // unset params read 0
    // upcall vector: errnos, then set; the GSI callback is dropped (quirk)
    d.mem.writeU32(BUF, 0);
    d.mem.writeU8(BUF + 4, 0x0f);
    expect(run(h, HYPERVISOR_hvm_op, [23, BUF])).toBe(-E.EINVAL);
    d.mem.writeU32(BUF, 7);
    d.mem.writeU8(BUF + 4, 0xf3);
    expect(run(h, HYPERVISOR_hvm_op, [23, BUF])).toBe(-E.ENOENT);
    d.mem.writeU32(BUF, 1);
    expect(run(h, HYPERVISOR_hvm_op, [23, BUF])).toBe(0);
    expect(d.state.upcallVector(1)).toBe(0xf3);
    expect(d.state.get(D.CALLBACK_KIND)).toBe(CallbackKind.None);
    d.mem.write(BUF, param(0x7ff0, 0, 1n));
    expect(run(h, HYPERVISOR_hvm_op, [0, BUF])).toBe(0);
    expect(d.state.get(D.CALLBACK_KIND)).toBe(CallbackKind.None);
    d.mem.write(BUF, param(0x7ff0, 0, 0n));
    expect(run(h, HYPERVISOR_hvm_op, [1, BUF])).toBe(0);
    expect(d.mem.readU64(BUF + 8)).toBe(1n);
    expect(run(h, HYPERVISOR_hvm_op, [99, BUF])).toBe(-E.ENOSYS);
    expect(run(h, HYPERVISOR_hvm_op, [0, 0xfee00000])).toBe(-E.EFAULT);
  });
});

describe('vcpu_op and set_timer_op', () => {
  it('register_vcpu_info: checks, copy, forced pending upcall, -EBUSY', () => {
    const { d, run } = setup();
    const h = vcpuOpHandler(d);
    mapSharedInfo(d, SHINFO);
    d.state.set(d.state.vcpuWord(1, 4), 0xf3); // per-vCPU vector for vCPU1
    d.mem.writeU8(SHINFO + 64 + 1, 1); // vCPU1's default vcpu_info: mask set
    const reg = (mfn: number, offset: number): void => {
      d.mem.writeU64(BUF, BigInt(mfn));
      d.mem.writeU32(BUF + 8, offset);
    };
    reg(VI >> 12, 4096 - 32);
    expect(run(h, HYPERVISOR_vcpu_op, [10, 1, BUF])).toBe(-E.ENXIO);
    expect(run(h, HYPERVISOR_vcpu_op, [10, 5, BUF])).toBe(-E.ENOENT);
    reg(0xfee00, 0);
    expect(run(h, HYPERVISOR_vcpu_op, [10, 1, BUF])).toBe(-E.EINVAL);
    expect(run(h, HYPERVISOR_vcpu_op, [10, 1, 0xfee00000])).toBe(-E.EFAULT);
    reg(VI >> 12, 0x40);
    expect(run(h, HYPERVISOR_vcpu_op, [10, 1, BUF])).toBe(0);
    expect(d.state.vcpuInfoGpa(1)).toBe(VI + 0x40);
    expect(d.mem.readU8(VI + 0x40)).toBe(1); // upcall pending
    expect(d.mem.readU8(VI + 0x41)).toBe(1); // mask copied from the old place
    expect(d.mem.readU64(VI + 0x48)).toBe(0xffffffffffffffffn);
    expect(d.msis).toEqual([{ addressLo: 0xfee01000, addressHi: 0, data: 0xf3 }]);
    expect(run(h, HYPERVISOR_vcpu_op, [10, 1, BUF])).toBe(-E.EBUSY);
    expect(run(h, HYPERVISOR_vcpu_op, [3, 1, 0])).toBe(1);
    expect(run(h, HYPERVISOR_vcpu_op, [99, 1, 0])).toBe(-E.ENOSYS);
  });

  it('timers: -ETIME in the past with the future flag, other vCPUs, periods, VIRQ on expiry', async () => {
    const { d, run } = setup();
    const h = vcpuOpHandler(d);
    d.mem.writeU64(BUF, 1n);
    d.mem.writeU32(BUF + 8, 1);
    expect(run(h, HYPERVISOR_vcpu_op, [8, 0, BUF])).toBe(-E.ETIME);
    expect(run(h, HYPERVISOR_vcpu_op, [8, 1, BUF])).toBe(-E.EINVAL); // not the caller's own
    d.mem.writeU32(BUF + 8, 0);
    expect(run(h, HYPERVISOR_vcpu_op, [8, 0, BUF])).toBe(0); // past, no flag: fires at once
    d.mem.writeU64(BUF, 1000n);
    expect(run(h, HYPERVISOR_vcpu_op, [6, 1, BUF])).toBe(-E.EINVAL);
    d.mem.writeU64(BUF, 2_000_000n);
    expect(run(h, HYPERVISOR_vcpu_op, [6, 1, BUF])).toBe(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(d.virqs).toContain(0);
    expect(d.virqs.filter((v) => v === 1).length).toBeGreaterThanOrEqual(2);
    expect(run(h, HYPERVISOR_vcpu_op, [7, 1, 0])).toBe(0);
    const st = setTimerOpHandler(d);
    expect(st.handle(call(HYPERVISOR_set_timer_op, [0x1000, 0x1], { longMode: false, vcpuId: 1 }), guestOf(d.mem))).toBe(0);
    expect(d.timers.armed(1).singleshotNs).toBe(0x1_0000_1000n);
    expect(st.handle(call(HYPERVISOR_set_timer_op, [0]), guestOf(d.mem))).toBe(0);
    d.timers.dispose();
  });
});

describe('sched_op and console_io', () => {
  it('yield, poll (too many ports, timeout, pending port, bad pointer), shutdown reasons', () => {
    const { d, g } = setup();
    const env = { state: d.state, vcpuId: 0, interrupted: () => false, interruptPending: () => false, evtchn: () => vcpuEvtchnOf(d) };
    const v = schedOpVcpuHandler(env);
    expect(v.fast!(call(HYPERVISOR_sched_op, [3]))).toBe(true);
    expect(v.fast!(call(HYPERVISOR_sched_op, [2]))).toBe(false);
    expect(v.handle(call(HYPERVISOR_sched_op, [0]), g)).toBe(0);
    d.mem.writeU32(BUF + 0x100, 5);
    d.mem.writeU64(BUF, BigInt(BUF + 0x100));
    d.mem.writeU32(BUF + 8, 200);
    expect(v.handle(call(HYPERVISOR_sched_op, [3, BUF]), g)).toBe(-E.EINVAL);
    d.mem.writeU32(BUF + 8, 1);
    d.mem.writeU64(BUF + 16, d.state.nowNs() + 3_000_000n);
    const t0 = Date.now();
    expect(v.handle(call(HYPERVISOR_sched_op, [3, BUF]), g)).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2);
    d.mem.writeU32(BUF + 0x100, 5000);
    expect(v.handle(call(HYPERVISOR_sched_op, [3, BUF]), g)).toBe(-E.EINVAL); // port beyond 2L max
    mapSharedInfo(d, SHINFO);
    d.mem.writeU32(BUF + 0x100, 5);
    d.mem.writeU8(SHINFO + 0x800, 1 << 5); // port 5 pending
    d.mem.writeU64(BUF + 16, 0n); // no timeout: must return because the port is pending
    expect(v.handle(call(HYPERVISOR_sched_op, [3, BUF]), g)).toBe(0);
    d.mem.writeU64(BUF, 0xfee00000n);
    expect(v.handle(call(HYPERVISOR_sched_op, [3, BUF]), g)).toBe(-E.EFAULT);
    // 32-bit layout: {u32 ports; u32 nr_ports; u64 timeout}
    d.mem.writeU32(BUF, BUF + 0x100);
    d.mem.writeU32(BUF + 4, 129);
    expect(v.handle(call(HYPERVISOR_sched_op, [3, BUF], { longMode: false }), g)).toBe(-E.EINVAL);

    const h = schedOpHostHandler(d);
    for (const [reason, want] of [[0, 0], [1, 0], [3, 0], [2, -E.EINVAL]] as const) {
      d.mem.writeU32(BUF, reason);
      expect(h.handle(call(HYPERVISOR_sched_op, [2, BUF]), g)).toBe(want);
    }
    expect(d.shutdowns).toEqual(['poweroff', 'reboot', 'crash']);
    expect(h.handle(call(HYPERVISOR_sched_op, [2, 0xfee00000]), g)).toBe(-E.EFAULT);
  });

  it('block returns when the upcall is pending or the vCPU is interrupted', () => {
    const { d, g } = setup();
    mapSharedInfo(d, SHINFO);
    let n = 0;
    const v = schedOpVcpuHandler({ state: d.state, vcpuId: 0, interrupted: () => ++n > 2, interruptPending: () => false, evtchn: () => vcpuEvtchnOf(d) });
    expect(v.handle(call(HYPERVISOR_sched_op, [1]), g)).toBe(0);
    expect(n).toBe(3);
    d.mem.writeU8(SHINFO, 1);
    n = -100;
    expect(v.handle(call(HYPERVISOR_sched_op, [1]), g)).toBe(0);
    expect(n).toBe(-100);
  });

  it('console_io write (bounded), read -EPERM, bad pointer', () => {
    const { d, run } = setup();
    const h = consoleIoHandler(d);
    d.mem.write(BUF, Buffer.from('hi\n'));
    expect(run(h, HYPERVISOR_console_io, [0, 3, BUF])).toBe(0);
    expect(run(h, HYPERVISOR_console_io, [0, 1 << 30, BUF])).toBe(0);
    expect(d.consoleOut[0]).toBe('hi\n');
    expect(d.consoleOut[1]!.length).toBe(4096);
    expect(run(h, HYPERVISOR_console_io, [1, 3, BUF])).toBe(-E.EPERM);
    expect(run(h, HYPERVISOR_console_io, [0, 3, 0xfee00000])).toBe(-E.EFAULT);
    expect(run(h, HYPERVISOR_console_io, [5, 3, BUF])).toBe(-E.ENOSYS);
  });
});

describe('event channels through the platform', () => {
  it('fast ops on the vCPU backend, control ops on the host, pollers woken by a masked send, VIRQ_TIMER', () => {
    const { d, g } = setup();
    mapSharedInfo(d, SHINFO);
    const v = vcpuEvtchnOf(d);
    const ec = (cmd: number): HypercallCall => call(HYPERVISOR_event_channel_op, [cmd, BUF]);
    expect(v.eventChannelFast!(ec(4))).toBe(true); // send
    expect(v.eventChannelFast!(ec(7))).toBe(false); // bind_ipi: control path
    d.mem.writeU32(BUF, 1); // bind_ipi {vcpu 1}
    expect(d.events.hypercall(7, BUF, g)).toBe(0);
    const port = d.mem.readU32(BUF + 4);
    d.mem.writeU8(SHINFO + 0xa00, 1 << port); // masked (64-bit evtchn_mask at 0xa00)
    d.state.setPolling(1, true);
    const w = d.state.wakeWord(1);
    const before = Atomics.load(d.state.words, w);
    d.mem.writeU32(BUF, port);
    expect(v.eventChannelOp(ec(4), g)).toBe(0);
    expect(Atomics.load(d.state.words, w)).toBe(before + 1); // poller woken though masked
    expect(v.pollPort!(port)).toBe(1);
    expect(v.pollPort!(5000)).toBe(-E.EINVAL);
    expect(d.msis).toEqual([]); // masked: no upcall
    d.state.setPolling(1, false);
    // VIRQ_TIMER through the host backend's (vcpu, virq) order
    d.mem.writeU32(BUF, 0); // bind_virq {virq 0; vcpu 1}
    d.mem.writeU32(BUF + 4, 1);
    expect(d.events.hypercall(1, BUF, g)).toBe(0);
    const tport = d.mem.readU32(BUF + 8);
    hostEvtchn(d.events).raiseVirq!(1, VIRQ_TIMER);
    expect(v.pollPort!(tport)).toBe(1);
    expect(d.events.snapshot().ports.find((p) => p.port === tport)).toMatchObject({ type: 'virq', vcpu: 1, sends: 1, deliveries: 1 });
  });
});
