import { describe, expect, it } from 'vitest';
import { IrqLabRegisters, type RegisterActions } from './registers.js';
import { BURST_MAX, FEATURE_INTX, FEATURE_MSIX, IRQ_LAB_MAGIC, REG } from './regs.js';

function rig(vectors = 16) {
  const calls: unknown[][] = [];
  const rec = (name: string) => (...a: unknown[]) => void calls.push([name, ...a]);
  const actions: RegisterActions = {
    fire: rec('fire'), burst: rec('burst'), fireRange: rec('range'), intx: rec('intx'), intxAuto: rec('intxAuto'),
    ackIntx: rec('ackIntx'), ack: rec('ack'), seqPage: rec('seq'), isRam: (gpa) => gpa < 0x100000,
  };
  return { regs: new IrqLabRegisters(vectors, FEATURE_MSIX | FEATURE_INTX, actions), calls };
}

describe('irq-lab BAR0 registers', () => {
  it('identifies itself', () => {
    const { regs } = rig(2048);
    expect(regs.read(REG.id, 4)).toBe(IRQ_LAB_MAGIC);
    expect(regs.read(REG.version, 4)).toBe(1);
    expect(regs.read(REG.numVectors, 4)).toBe(2048);
    expect(regs.read(REG.features, 4)).toBe(FEATURE_MSIX | FEATURE_INTX);
  });

  it('turns doorbells into actions and counts FIRED / ACKED', () => {
    const { regs, calls } = rig();
    regs.write(REG.fire, 4, 3);
    regs.write(REG.burstCount, 4, 10);
    regs.write(REG.burst, 4, 4);
    regs.write(REG.fireRange, 4, 2 | (5 << 16));
    regs.write(REG.ack, 4, 3);
    expect(calls).toEqual([['fire', 3], ['burst', 4, 10], ['range', 2, 5], ['ack', 3]]);
    expect(regs.read(REG.firedLo, 4)).toBe(1 + 10 + 4);
    expect(regs.read(REG.firedHi, 4)).toBe(0);
    expect(regs.read(REG.ackedLo, 4)).toBe(1);
    expect(regs.read(REG.burstCount, 4)).toBe(10);
  });

  it('ignores and counts out-of-range values, read-only writes and bad accesses', () => {
    const { regs, calls } = rig();
    regs.write(REG.fire, 4, 16); // beyond NUM_VECTORS
    regs.write(REG.burstCount, 4, 0);
    regs.write(REG.burstCount, 4, BURST_MAX + 1);
    regs.write(REG.fireRange, 4, 5 | (2 << 16)); // first > last
    regs.write(REG.fireRange, 4, 0 | (16 << 16));
    regs.write(REG.ack, 4, 0xffffffff);
    regs.write(REG.intx, 4, 2);
    regs.write(REG.intxAuto, 4, 0);
    regs.write(REG.id, 4, 1);
    regs.write(REG.seqBaseLo, 4, 0x1001); // not 4 KiB aligned
    expect(regs.stats.badWrites).toBe(10);
    regs.write(REG.fire, 2, 1);
    regs.write(REG.fire + 1, 4, 1);
    regs.write(0x1000, 4, 1);
    regs.write(REG.fire, 4, Number.NaN); // NaN -> 0: a valid vector
    expect(regs.read(REG.id, 1)).toBe(0);
    expect(regs.stats.badAccesses).toBe(4);
    expect(calls).toEqual([['fire', 0]]);
    expect(regs.read(REG.burstCount, 4)).toBe(1);
  });

  it('models the INTx level: INTX and INTX_AUTO work items', () => {
    const { regs, calls } = rig();
    regs.write(REG.intx, 4, 1);
    expect(regs.read(REG.intx, 4)).toBe(1);
    regs.write(REG.intx, 4, 0);
    expect(regs.read(REG.intx, 4)).toBe(0);
    regs.write(REG.intxAuto, 4, 2);
    expect(regs.intxLevel).toBe(true);
    regs.write(REG.ackIntx, 4, 0);
    expect(regs.intxLevel).toBe(true);
    regs.write(REG.ackIntx, 4, 0);
    expect(regs.intxLevel).toBe(false);
    regs.write(REG.ackIntx, 4, 0); // an extra ack does not go negative
    expect(regs.intxAutoItems).toBe(0);
    expect(calls.map((c) => c[0])).toEqual(['intx', 'intx', 'intxAuto', 'ackIntx', 'ackIntx', 'ackIntx']);
  });

  it('arms the sequence page with the high-half write, only inside RAM', () => {
    const { regs, calls } = rig();
    regs.write(REG.seqBaseLo, 4, 0x8000);
    expect(calls).toEqual([]);
    regs.write(REG.seqBaseHi, 4, 0);
    expect(calls).toEqual([['seq', 0x8000]]);
    expect(regs.seqPage).toBe(0x8000);
    regs.write(REG.seqBaseLo, 4, 0);
    regs.write(REG.seqBaseHi, 4, 1); // 4 GiB: not RAM in this rig
    expect(regs.stats.badWrites).toBe(1);
    expect(regs.seqPage).toBe(0);
    expect(calls.at(-1)).toEqual(['seq', 0]);
  });
});
