import { describe, expect, it } from 'vitest';
import type { NativeKvm } from '../kvm/addon.js';
import { decodeRegs, encodeRegs, encodeSregs, REG_NAMES, type Regs, type Segment, type Sregs } from '../kvm/structs.js';
import { addonHasSyncRegs, ioctlRegisterAccess, syncRegisterAccess } from './sync-regs.js';

const seg = (i: number): Segment => ({ base: BigInt(i) << 32n, limit: i, selector: i * 8, type: 11, present: 1, dpl: i & 3, db: 0, s: 1, l: i === 0 ? 1 : 0, g: 1, avl: 0, unusable: 0 });
const regs = (): Regs => Object.fromEntries(REG_NAMES.map((n, i) => [n, (BigInt(i + 1) << 40n) | BigInt(i + 1)])) as Regs;
const sregs: Sregs = {
  cs: seg(0), ds: seg(1), es: seg(2), fs: seg(3), gs: seg(4), ss: { ...seg(5), dpl: 3 }, tr: seg(6), ldt: seg(7),
  gdt: { base: 0x1000n, limit: 0xff }, idt: { base: 0x2000n, limit: 0xfff },
  cr0: 0x80050033n, cr2: 0xdeadn, cr3: 0x123000n, cr4: 0x6f0n, cr8: 0n, efer: 0xd01n, apicBase: 0xfee00900n, interruptBitmap: [0n, 0n, 0n, 0n],
};

describe('hypercall register access', () => {
  it('sync regs: reads the fields decodeHypercall needs from the shadow, patches RAX and marks it dirty', () => {
    const SYNC = 4608;
    const SREGS = SYNC + 144;
    const shadow = new Uint8Array(5120);
    shadow.set(encodeRegs(regs()), SYNC);
    shadow.set(encodeSregs(sregs), SREGS);
    const calls: [number, boolean][] = [];
    const native = { vcpuSyncRegs: (h: number, on: boolean) => calls.push([h, on]), SHADOW_SYNC: SYNC, SHADOW_SYNC_SREGS: SREGS, SHADOW_FLAGS: 2 } as unknown as NativeKvm;
    const a = syncRegisterAccess(native, 7, shadow)!;
    expect(calls).toEqual([[7, true]]);
    const { regs: r, sregs: s } = a.read();
    const want = regs();
    for (const n of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r9', 'r10'] as const) expect(r[n], n).toBe(want[n]);
    expect(s).toEqual({ cs: { l: 1 }, ss: { dpl: 3 }, cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer });
    a.setRax(-38n);
    expect(shadow[2]! & 1).toBe(1);
    expect(decodeRegs(shadow.subarray(SYNC, SYNC + 144))).toEqual({ ...want, rax: 0xffffffffffffffdan });
  });

  it('an addon without sync regs gives none; the ioctl access writes back every register it read', () => {
    expect(syncRegisterAccess({} as NativeKvm, 0, new Uint8Array(5120))).toBeUndefined();
    const full = { vcpuSyncRegs: () => {}, SHADOW_SYNC: 4608, SHADOW_SYNC_SREGS: 4752, SHADOW_FLAGS: 2 };
    expect(addonHasSyncRegs(full, 5120)).toBe(true);
    expect(addonHasSyncRegs(full, 4752 + 100)).toBe(false); // shadow too small for the sregs' EFER
    expect(addonHasSyncRegs({ ...full, vcpuSyncRegs: undefined }, 5120)).toBe(false);
    const written: Regs[] = [];
    const a = ioctlRegisterAccess({ getRegs: regs, getSregs: () => sregs, setRegs: (x) => void written.push(x) });
    expect(a.read().sregs).toBe(sregs);
    a.setRax(5n);
    expect(written).toEqual([{ ...regs(), rax: 5n }]);
  });
});
