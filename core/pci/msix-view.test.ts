// MSI-X table view: decoding, window clamping, stats joining, Xen PIRQ encoding, and host
// writes taking the guest's table-write path (pending on mask, one delivery on unmask).
import { describe, expect, it } from 'vitest';
import type { InterruptSourceStats } from '../irq/interrupt-manager.js';
import type { MsiMessage } from '../irq/types.js';
import { ConfigSpace } from './config-space.js';
import { encodeMsi } from './msi-decode.js';
import { MsixCapability, MSIX_CTRL_ENABLE, MSIX_VECTOR_MASKED } from './msix.js';
import { msixTableView, msixWindow, type MsixViewSource } from './msix-view.js';

function rig(vectors = 8) {
  const cfg = new ConfigSpace();
  cfg.initHeader({ vendorId: 1, deviceId: 2, classCode: 0 });
  const sent: [number, MsiMessage][] = [];
  const msix = new MsixCapability(cfg, { vectors, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0x40 }, { sender: { send: (v, m) => sent.push([v, m]) } });
  cfg.write(msix.offset + 2, 2, MSIX_CTRL_ENABLE);
  const program = (v: number, msg: MsiMessage, masked: boolean): void => {
    msix.table.write(v * 16, 4, msg.addressLo);
    msix.table.write(v * 16 + 4, 4, msg.addressHi);
    msix.table.write(v * 16 + 8, 4, msg.data);
    msix.table.write(v * 16 + 12, 4, masked ? MSIX_VECTOR_MASKED : 0);
  };
  const src = (extra: Partial<MsixViewSource> = {}): MsixViewSource => ({ device: 'lab0', bdf: '00:03.0', msix, row: () => undefined, canFire: true, ...extra });
  return { msix, sent, program, src };
}

const fixed = (dest: number, vector: number): MsiMessage =>
  encodeMsi({ destinationId: dest, destinationMode: 'physical', redirectionHint: false, vector, deliveryMode: 0, trigger: 'edge', level: 'assert' });

describe('msixTableView', () => {
  it('decodes each entry and reports the capability layout', () => {
    const { program, src } = rig();
    program(2, fixed(300, 0x41), false);
    program(3, { ...fixed(1, 0x42), data: 0x42 | 0x8000 | 0x4000 | (1 << 8) }, true);
    const t = msixTableView(src(), 2, 2);
    expect(t).toMatchObject({ device: 'lab0', bdf: '00:03.0', enabled: true, functionMasked: false, vectors: 8, tableBar: 1, pbaBar: 2, pbaOffset: 0x40, first: 2, canFire: true });
    expect(t.entries[0]).toMatchObject({ index: 2, dest: 300, vector: 0x41, destMode: 'physical', deliveryMode: 'Fixed', trigger: 'edge', masked: false, pending: false, gsi: null });
    expect(t.entries[1]).toMatchObject({ index: 3, dest: 1, vector: 0x42, deliveryMode: 'Lowest Priority', trigger: 'level', masked: true });
    expect(t.entries[0]!.pirq).toBeUndefined();
  });

  it('clamps the window to the table', () => {
    expect(msixWindow(8, 6, 256)).toEqual({ first: 6, count: 2 });
    expect(msixWindow(8, 20, 4)).toEqual({ first: 7, count: 1 });
    expect(msixWindow(8, -3, 2)).toEqual({ first: 0, count: 2 });
    const { src } = rig();
    expect(msixTableView(src(), 0, 2048).entries).toHaveLength(8);
  });

  it('joins the interrupt group row and prefers the device’s own raise count', () => {
    const { program, src } = rig();
    program(1, fixed(0, 0x30), false);
    const row: InterruptSourceStats = {
      source: { device: 'lab0', vector: 1 }, path: 'irqfd', gsi: 25, masked: false, pending: false, total: 3, coalesced: 1,
      firedWhileMasked: 2, deliveredAfterUnmask: 1, injected: 0,
    };
    const rowOf = (v: number) => (v === 1 ? row : undefined);
    expect(msixTableView(src({ row: rowOf }), 1, 1).entries[0]).toMatchObject({ gsi: 25, path: 'irqfd', total: 3, coalesced: 1, firedWhileMasked: 2, deliveredAfterUnmask: 1 });
    expect(msixTableView(src({ row: rowOf, raised: () => 40 }), 1, 1).entries[0]!.total).toBe(40);
  });

  it('marks messages in the Xen PIRQ encoding', () => {
    const { program, src } = rig();
    program(0, { addressLo: 0xfee00000 | (0x21 << 12), addressHi: 0x100, data: 0 }, true);
    const pirqOf = (m: MsiMessage) => ((m.data & 0xff) === 0 ? ((m.addressLo >>> 12) & 0xff) | (m.addressHi & 0xffffff00) : 0);
    expect(msixTableView(src({ pirqOf }), 0, 1).entries[0]!.pirq).toBe(0x121);
  });

  it('host writes go through the table: masked notify pends, unmask delivers once, counted', () => {
    const { msix, program, sent, src } = rig();
    program(4, fixed(0, 0x50), false);
    msix.hostWrite(4, 'vectorControl', MSIX_VECTOR_MASKED);
    msix.notify(4);
    msix.notify(4);
    let e = msixTableView(src(), 4, 1).entries[0]!;
    expect(e).toMatchObject({ masked: true, pending: true, firedWhileMasked: 2, coalesced: 1, hostWrites: 1 });
    expect(sent).toHaveLength(0);
    msix.hostWrite(4, 'vectorControl', 0);
    e = msixTableView(src(), 4, 1).entries[0]!;
    expect(e).toMatchObject({ masked: false, pending: false, deliveredAfterUnmask: 1, hostWrites: 2 });
    expect(sent.map(([v]) => v)).toEqual([4]);
    expect(msix.stats.hostWrites).toBe(2);
    expect(() => msix.hostWrite(8, 'vectorControl', 0)).toThrow(/no MSI-X vector 8/);
  });
});
