// Decoders of KVM_GET_IRQCHIP results (struct kvm_irqchip, linux/kvm.h): chip_id 0/1 the
// master/slave 8259 PIC (struct kvm_pic_state), chip_id 2 the IOAPIC (struct
// kvm_ioapic_state). The IOAPIC decodes into the per-pin shape of the userspace IOAPIC's
// snapshot (core/devices/ioapic-view.ts) so both irqchip modes read the same; only the
// userspace IOAPIC has per-pin counters. Pure functions of the bytes.
import { VmmError } from '../errors.js';
import { decodeRtePin } from '../devices/ioapic-view.js';
import type { IoapicPinSnapshot, IoapicPinStats } from '../devices/ioapic.js';

/** sizeof(struct kvm_irqchip): u32 chip_id, u32 pad, 512-byte union. */
export const KVM_IRQCHIP_SIZE = 8 + 512;
const CHIP_OFFSET = 8;
/** struct kvm_ioapic_state: u64 base_address; u32 ioregsel; u32 id; u32 irr; u32 pad; u64 redirtbl[24]. */
const IOAPIC = { base: 0, ioregsel: 8, id: 12, irr: 16, redirtbl: 24 } as const;
export const KVM_IOAPIC_NUM_PINS = 24;
/** struct kvm_pic_state: 16 u8 fields in this order. */
const PIC = {
  lastIrr: 0, irr: 1, imr: 2, isr: 3, priorityAdd: 4, irqBase: 5, readRegSelect: 6, poll: 7, specialMask: 8,
  initState: 9, autoEoi: 10, rotateOnAutoEoi: 11, specialFullyNestedMode: 12, init4: 13, elcr: 14, elcrMask: 15,
} as const;

export class IrqchipDecodeError extends VmmError {}

/** An IOAPIC pin as both modes report it; counters only for the userspace IOAPIC. */
export type IoapicPinState = Omit<IoapicPinSnapshot, keyof IoapicPinStats> & Partial<IoapicPinStats>;

export interface IoapicState {
  source: 'kernel' | 'userspace';
  id: number;
  ioregsel: number;
  base?: number;
  pins: IoapicPinState[];
}

export interface PicState {
  chip: 'master' | 'slave';
  irr: number;
  imr: number;
  isr: number;
  irqBase: number;
  priorityAdd: number;
  readRegSelect: 'irr' | 'isr';
  autoEoi: boolean;
  specialFullyNestedMode: boolean;
  elcr: number;
  initState: number;
}

function chipView(bytes: Uint8Array, expected: number): DataView {
  if (bytes.byteLength < KVM_IRQCHIP_SIZE) throw new IrqchipDecodeError(`kvm_irqchip is ${bytes.byteLength} bytes, expected ${KVM_IRQCHIP_SIZE}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, KVM_IRQCHIP_SIZE);
  const chip = dv.getUint32(0, true);
  if (chip !== expected) throw new IrqchipDecodeError(`kvm_irqchip holds chip ${chip}, expected ${expected}`);
  return new DataView(bytes.buffer, bytes.byteOffset + CHIP_OFFSET, KVM_IRQCHIP_SIZE - CHIP_OFFSET);
}

/** One RTE (two 32-bit words) into the userspace snapshot's per-pin fields. */
export const decodeRte = (pin: number, lo: number, hi: number, irr: number): IoapicPinState => decodeRtePin(pin, lo, hi, irr);

export function decodeKvmIoapic(bytes: Uint8Array): IoapicState {
  const dv = chipView(bytes, 2);
  const irr = dv.getUint32(IOAPIC.irr, true);
  const pins: IoapicPinState[] = [];
  for (let pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
    const at = IOAPIC.redirtbl + pin * 8;
    pins.push(decodeRte(pin, dv.getUint32(at, true), dv.getUint32(at + 4, true), irr));
  }
  return {
    source: 'kernel',
    id: dv.getUint32(IOAPIC.id, true),
    ioregsel: dv.getUint32(IOAPIC.ioregsel, true),
    base: Number(dv.getBigUint64(IOAPIC.base, true)),
    pins,
  };
}

export function decodeKvmPic(bytes: Uint8Array, chipId: 0 | 1): PicState {
  const dv = chipView(bytes, chipId);
  const u8 = (o: number): number => dv.getUint8(o);
  return {
    chip: chipId === 0 ? 'master' : 'slave',
    irr: u8(PIC.irr),
    imr: u8(PIC.imr),
    isr: u8(PIC.isr),
    irqBase: u8(PIC.irqBase),
    priorityAdd: u8(PIC.priorityAdd),
    readRegSelect: u8(PIC.readRegSelect) ? 'isr' : 'irr',
    autoEoi: u8(PIC.autoEoi) !== 0,
    specialFullyNestedMode: u8(PIC.specialFullyNestedMode) !== 0,
    elcr: u8(PIC.elcr),
    initState: u8(PIC.initState),
  };
}
