// A real-mode guest for interrupt-routing tests: it masks the PIC, switches its LAPIC to
// x2APIC mode and software-enables it (all with WRMSR, so no MMIO is needed in real mode),
// reports ready on port 0x510, then halts with interrupts on. Vector 0x40 increments the
// u32 at 0x500; vector 0x41 increments the u32 at 0x504 and writes port 0x511 (the level
// device's "service" register) before its EOI. Every handler EOIs through the x2APIC EOI
// MSR. Source: the GNU as listing in the comment at the end of this file.
import { nativeKvm } from '../../core/kvm/addon.js';
import * as K from '../../core/kvm/constants.js';
import type { Vm } from '../../core/kvm/vm.js';
import type { GuestRam } from '../../core/kvm/guest-ram.js';
import { rawRealModeVm } from './raw-vm.js';

export const MSI_VECTOR = 0x40;
export const LEVEL_VECTOR = 0x41;
const MSI_COUNT_ADDR = 0x500;
const LEVEL_COUNT_ADDR = 0x504;
const READY_PORT = 0x510;
const SERVICE_PORT = 0x511;
const IOAPIC_CHIP = 2;
const IRQCHIP_SIZE = 520;
const REDIRTBL_OFFSET = 32;
const RTE_LEVEL = 1 << 15;

const CODE = Uint8Array.from([0xfa,0x31,0xc0,0x8e,0xd8,0x8e,0xd0,0xbc,0x00,0x70,0xc7,0x06,0x00,0x01,0x68,0x10,0xc7,0x06,0x02,0x01,0x00,0x00,0xc7,0x06,0x04,0x01,0x88,0x10,0xc7,0x06,0x06,0x01,0x00,0x00,0xc7,0x06,0xfc,0x03,0xac,0x10,0xc7,0x06,0xfe,0x03,0x00,0x00,0xb0,0xff,0xe6,0x21,0xe6,0xa1,0x66,0xb9,0x1b,0x00,0x00,0x00,0x0f,0x32,0x66,0x0d,0x00,0x0c,0x00,0x00,0x0f,0x30,0x66,0xb9,0x0f,0x08,0x00,0x00,0x66,0xb8,0xff,0x01,0x00,0x00,0x66,0x31,0xd2,0x0f,0x30,0x66,0xb9,0x08,0x08,0x00,0x00,0x66,0x31,0xc0,0x0f,0x30,0xba,0x10,0x05,0xee,0xfb,0xf4,0xeb,0xfd,0x66,0x50,0x66,0x51,0x66,0x52,0x66,0xff,0x06,0x00,0x05,0x66,0xb9,0x0b,0x08,0x00,0x00,0x66,0x31,0xc0,0x66,0x31,0xd2,0x0f,0x30,0x66,0x5a,0x66,0x59,0x66,0x58,0xcf,0x66,0x50,0x66,0x51,0x66,0x52,0x66,0xff,0x06,0x04,0x05,0xba,0x11,0x05,0xee,0x66,0xb9,0x0b,0x08,0x00,0x00,0x66,0x31,0xc0,0x66,0x31,0xd2,0x0f,0x30,0x66,0x5a,0x66,0x59,0x66,0x58,0xcf,0xcf]);

export interface IrqGuest {
  vm: Vm;
  ram: GuestRam;
  msiCount(): number;
  levelCount(): number;
  /** Resolves once the guest has enabled its LAPIC and interrupts. */
  ready: Promise<void>;
  /** Called (on the host thread) when the vector 0x41 handler writes port 0x511. */
  onService: () => void;
  /** In-kernel IOAPIC: route pin to LEVEL_VECTOR, level-triggered, unmasked, APIC ID 0. */
  routeLevelPin(pin: number): void;
  dispose(): Promise<void>;
}

export async function startIrqGuest(): Promise<IrqGuest> {
  const raw = rawRealModeVm(CODE);
  const { vm, ram, pio } = raw;
  let ready!: () => void;
  const guest: IrqGuest = {
    vm,
    ram,
    msiCount: () => ram.memory.readU32(MSI_COUNT_ADDR),
    levelCount: () => ram.memory.readU32(LEVEL_COUNT_ADDR),
    ready: new Promise<void>((res) => (ready = res)),
    onService: () => {},
    routeLevelPin(pin) {
      const b = new Uint8Array(IRQCHIP_SIZE);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, IOAPIC_CHIP, true);
      nativeKvm().ioctl(vm.fd, K.KVM_GET_IRQCHIP, b);
      dv.setBigUint64(REDIRTBL_OFFSET + pin * 8, BigInt(LEVEL_VECTOR | RTE_LEVEL), true);
      nativeKvm().ioctl(vm.fd, K.KVM_SET_IRQCHIP, b);
    },
    dispose: () => raw.dispose(),
  };
  pio.register(READY_PORT, 1, { name: 'ready', read: () => 0, write: () => ready() });
  pio.register(SERVICE_PORT, 1, { name: 'service', read: () => 0, write: () => guest.onService() });
  await raw.start();
  return guest;
}

/*
  cli; xor ax,ax; mov ds,ax; mov ss,ax; mov sp,0x7000
  IVT[0x40] = h40, IVT[0x41] = h41, IVT[0xff] = hff (segment 0)
  mov al,0xff; out 0x21,al; out 0xa1,al                    ; mask both PICs
  mov ecx,0x1b; rdmsr; or eax,0xc00; wrmsr                 ; IA32_APIC_BASE: EN | EXTD
  mov ecx,0x80f; mov eax,0x1ff; xor edx,edx; wrmsr          ; SVR: enable, spurious 0xff
  mov ecx,0x808; xor eax,eax; wrmsr                         ; TPR 0
  mov dx,0x510; out dx,al; sti; 1: hlt; jmp 1b
  h40: push eax/ecx/edx; inc dword [0x500]; EOI (wrmsr 0x80b, 0); pop; iret
  h41: push eax/ecx/edx; inc dword [0x504]; mov dx,0x511; out dx,al; EOI; pop; iret
  hff: iret
*/
