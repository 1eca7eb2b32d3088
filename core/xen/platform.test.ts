import { describe, expect, it } from 'vitest';
import * as E from './errno.js';
import { decodeForward, decodeHypercall, encodeForward, withResult, FORWARD_BYTES } from './abi.js';
import { VcpuDispatcher, HostDispatcher, fromKvmXenExit } from './dispatcher.js';
import { hypercallPage, writeHypercallMsr, xenMsrFilter } from './hypercall-page.js';
import { xenCpuid } from './cpuid.js';
import { XenStats } from './xen-stats.js';
import { PagingMode } from './guest-access.js';
import { call, guestOf, testDomain } from './test-helpers.js';
import { xenVersionHandler } from './hypercalls/xen-version.js';
import { CallbackLine } from './upcall.js';
import { CallbackKind, D } from './xen-state.js';
import { REG_NAMES, type Regs, type Segment, type Sregs } from '../kvm/structs.js';

const seg = (o: Partial<Segment> = {}): Segment => ({ base: 0n, limit: 0xffffffff, selector: 0x10, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0, ...o });
function regsOf(v: Partial<Regs>): Regs {
  const r = {} as Regs;
  REG_NAMES.forEach((n, i) => (r[n] = BigInt(i + 1) << 40n | BigInt(i + 1)));
  return { ...r, ...v };
}
function sregsOf(long: boolean, dpl = 0): Sregs {
  const s = { cs: seg({ l: long ? 1 : 0, db: long ? 0 : 1 }), ss: seg({ dpl }), cr0: 0x80000011n, cr3: 0x1000n, cr4: 0x20n, efer: long ? 0x500n : 0n } as Partial<Sregs>;
  for (const n of ['ds', 'es', 'fs', 'gs', 'tr', 'ldt'] as const) s[n] = seg();
  return { ...s, gdt: { base: 0n, limit: 0 }, idt: { base: 0n, limit: 0 }, cr2: 0n, cr8: 0n, apicBase: 0n, interruptBitmap: [0n, 0n, 0n, 0n] } as Sregs;
}

describe('ABI', () => {
  it('decodes the 64-bit ABI (RDI, RSI, RDX, R10, R8, R9) from CS.L', () => {
    const c = decodeHypercall(1, regsOf({ rax: 17n, rdi: 1n, rsi: 2n, rdx: 3n, r10: 4n, r8: 5n, r9: 6n }), sregsOf(true));
    expect(c).toMatchObject({ vcpuId: 1, nr: 17, longMode: true, cpl: 0, args: [1n, 2n, 3n, 4n, 5n, 6n] });
    expect(c.paging.mode).toBe(PagingMode.Long4);
    expect(withResult(regsOf({}), -22, true).rax).toBe(0xffffffffffffffean);
  });

  it('decodes the 32-bit ABI (EBX, ECX, EDX, ESI, EDI, EBP), truncating to 32 bits', () => {
    const c = decodeHypercall(0, regsOf({ rax: 0xdead00000011n, rbx: 0x1_0000_0001n, rcx: 2n, rdx: 3n, rsi: 4n, rdi: 5n, rbp: 6n }), sregsOf(false));
    expect(c).toMatchObject({ nr: 17, longMode: false, args: [1n, 2n, 3n, 4n, 5n, 6n] });
    expect(c.paging.mode).toBe(PagingMode.Pae);
    // compat code segment in a long-mode kernel: 32-bit ABI
    expect(decodeHypercall(0, regsOf({ rax: 17n }), { ...sregsOf(true), cs: seg({ l: 0 }) }).longMode).toBe(false);
    const r = withResult(regsOf({ rax: 0xffff_0000_0000_0011n }), -38, false);
    expect(r.rax).toBe(0xffff_0000_ffff_ffdan);
  });

  it('out-of-range numbers, CPL from SS.DPL, forward round trip', () => {
    expect(decodeHypercall(0, regsOf({ rax: 1n << 40n }), sregsOf(true)).nr).toBe(128);
    expect(decodeHypercall(0, regsOf({ rax: 17n }), sregsOf(true, 3)).cpl).toBe(3);
    const c = decodeHypercall(3, regsOf({ rax: 24n }), sregsOf(true));
    const b = new Uint8Array(FORWARD_BYTES);
    encodeForward(c, b);
    expect(decodeForward(b)).toEqual({ ...c, paging: { ...c.paging } });
  });
});

describe('dispatcher', () => {
  it('runs fast handlers locally, forwards the rest, -EPERM for CPL 3, -ENOSYS for unknown, counts all', () => {
    const stats = XenStats.create(1);
    const d = testDomain(1);
    const forwarded: number[] = [];
    const v = new VcpuDispatcher(stats, () => guestOf(d.mem), (c) => (forwarded.push(c.nr), -E.ENOSYS));
    v.register(xenVersionHandler);
    expect(v.dispatch(call(17, [0]))).toBe(0x40011);
    expect(v.dispatch(call(24, [3, 0]))).toBe(-E.ENOSYS);
    expect(v.dispatch(call(17, [0], { cpl: 3 }))).toBe(-E.EPERM);
    expect(v.dispatch(call(128, []))).toBe(-E.ENOSYS);
    expect(forwarded).toEqual([24]);
    const s = stats.sample();
    expect(s.calls).toMatchObject({ xen_version: 2, vcpu_op: 1, out_of_range: 1 });
    expect(s.errors).toMatchObject({ 'xen_version EPERM': 1, 'vcpu_op ENOSYS': 1 });
    expect(s).toMatchObject({ fastPath: 3, forwarded: 1, cplDenied: 1 });
    const h = new HostDispatcher(() => guestOf(d.mem));
    expect(h.handle(call(50, []))).toBe(-E.ENOSYS);
  });

  it('adapts a KVM_EXIT_XEN hcall union into the same call', () => {
    const u = new DataView(new ArrayBuffer(256));
    u.setUint32(0, 1, true);
    u.setUint32(4, 1, true);
    u.setUint32(8, 0, true);
    u.setBigUint64(16, 17n, true);
    for (let i = 0; i < 6; i++) u.setBigUint64(32 + i * 8, BigInt(i + 10), true);
    const c = fromKvmXenExit(u, 2, { mode: PagingMode.Long4, cr3: 0n, pse: false, wp: true });
    expect(c).toMatchObject({ nr: 17, vcpuId: 2, longMode: true, cpl: 0, args: [10n, 11n, 12n, 13n, 14n, 15n] });
  });
});

describe('hypercall page, MSR filter, CPUID', () => {
  it('fills stubs `mov eax, nr; out 0x9a, al; ret`, stub 23 = ud2, rest int3; #GP cases', () => {
    const p = hypercallPage();
    expect(Array.from(p.subarray(17 * 32, 17 * 32 + 9))).toEqual([0xb8, 17, 0, 0, 0, 0xe6, 0x9a, 0xc3, 0xcc]);
    expect(Array.from(p.subarray(23 * 32, 23 * 32 + 3))).toEqual([0x0f, 0x0b, 0xcc]);
    const d = testDomain(1);
    expect(writeHypercallMsr(d.mem, 0x5000n | 1n)).toMatchObject({ ok: false });
    expect(writeHypercallMsr(d.mem, 0xfee00000n)).toMatchObject({ ok: false });
    expect(writeHypercallMsr(d.mem, 1n << 60n)).toMatchObject({ ok: false });
    expect(writeHypercallMsr(d.mem, 0x5000n)).toEqual({ ok: true, gfn: 5 });
    expect(d.mem.readU8(0x5000 + 127 * 32 + 5)).toBe(0xe6);
    const f = new DataView(xenMsrFilter(new Uint8Array(8), 0x1234n).buffer);
    expect([f.byteLength, f.getUint32(0, true), f.getUint32(8, true), f.getUint32(12, true), f.getUint32(16, true), Number(f.getBigUint64(24, true))])
      .toEqual([0x188, 0, 3, 1, 0x40000000, 0x1234]);
  });

  it('adds the Xen leaves and moves KVM leaves to 0x40000100', () => {
    const e = (fn: number, eax = 0, ebx = 0) => ({ function: fn, index: 0, flags: 0, eax, ebx, ecx: 0, edx: 0 });
    const out = xenCpuid([e(1), e(0x40000000, 0x40000001, 0x4b4d564b), e(0x40000001, 0, 0x7ff)], 3);
    const at = (fn: number, idx = 0) => out.find((x) => x.function === fn && x.index === idx)!;
    expect(at(0x40000100)).toMatchObject({ eax: 0x40000101, ebx: 0x4b4d564b });
    expect(at(0x40000101).ebx).toBe(0x7ff);
    expect(at(0x40000000)).toMatchObject({ eax: 0x40000004, ebx: 0x566e6558, ecx: 0x65584d4d, edx: 0x4d4d566e });
    expect(at(0x40000001).eax).toBe(0x40011);
    expect(at(0x40000002)).toMatchObject({ eax: 1, ebx: 0x40000000 });
    expect(at(0x40000004)).toMatchObject({ eax: 0x5c, ebx: 3, ecx: 0 });
  });
});

describe('upcall delivery', () => {
  it('per-vCPU vector first, then global vector, then a GSI level line for vCPU0 only', async () => {
    const d = testDomain(2);
    d.state.set(D.SHINFO_GFN, 0x20);
    const levels: [number, boolean][] = [];
    const line = new CallbackLine(d.state, (gsi) => ({ set: (l) => levels.push([gsi, l]) }));
    d.state.set(D.CALLBACK_VALUE, 9);
    d.state.set(D.CALLBACK_KIND, CallbackKind.Gsi);
    expect(d.upcall.markPending(1)).toBe(true); // vCPU1 with a GSI callback: nothing to inject
    expect(d.upcall.markPending(0)).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    expect(levels).toEqual([[9, true]]);
    d.mem.writeU8(0x20000, 0); // guest clears vCPU0's upcall_pending
    d.upcall.sampleCallbackLevel();
    await new Promise((r) => setTimeout(r, 5));
    expect(levels).toEqual([[9, true], [9, false]]);
    d.state.set(D.CALLBACK_VALUE, 0xf0);
    d.state.set(D.CALLBACK_KIND, CallbackKind.Vector);
    d.mem.writeU8(0x20000 + 64, 0);
    d.upcall.markPending(1);
    d.state.set(d.state.vcpuWord(0, 4), 0xf3);
    d.upcall.markPending(0);
    d.upcall.markPending(0); // already pending: no second injection
    expect(d.msis.map((m) => [m.addressLo, m.data])).toEqual([[0xfee01000, 0xf0], [0xfee00000, 0xf3]]);
    line.dispose();
  });
});
