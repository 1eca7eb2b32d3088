// A bare VM for tests and benchmarks: real-mode code at a fixed address, one vCPU run by
// the same worker/host pair the Machine uses, and a caller-supplied port-I/O bus. It
// exercises the KVM layer without boot loaders or firmware tables.
import { IoBus } from '../../core/bus/io-bus.js';
import { Kvm } from '../../core/kvm/kvm.js';
import { nativeKvm } from '../../core/kvm/addon.js';
import { Vcpu } from '../../core/kvm/vcpu.js';
import { allocateGuestRam, type GuestRam } from '../../core/kvm/guest-ram.js';
import type { Vm } from '../../core/kvm/vm.js';
import { pcLayout, MiB, KVM_TSS_ADDR } from '../../core/memory/layout.js';
import { VcpuHost } from '../../core/machine/vcpu-host.js';
import type { WorkerMessage } from '../../core/machine/vcpu-channel.js';

export const CODE_ADDR = 0x1000;

export interface RawVm {
  vm: Vm;
  ram: GuestRam;
  pio: IoBus;
  host: VcpuHost;
  messages: WorkerMessage[];
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export function rawRealModeVm(code: Uint8Array): RawVm {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  vm.setTssAddr(KVM_TSS_ADDR);
  vm.createIrqchip();
  const ram = allocateGuestRam(vm, pcLayout(2 * MiB));
  ram.memory.write(CODE_ADDR, code);
  const vcpu = new Vcpu(0, vm.createVcpu(0));
  vcpu.setCpuid(kvm.supportedCpuid());
  const s = vcpu.getSregs();
  s.cs = { ...s.cs, base: 0n, selector: 0 };
  vcpu.setSregs(s);
  const r = vcpu.getRegs();
  r.rip = BigInt(CODE_ADDR);
  r.rflags = 2n;
  vcpu.setRegs(r);
  const pio = new IoBus('pio', 0x10000);
  const mmio = new IoBus('mmio', 2 ** 52);
  const messages: WorkerMessage[] = [];
  const host = new VcpuHost(0, vcpu.fd, kvm.vcpuMmapSize(), { pio, mmio, onEoi: () => {}, workerInit: () => ({ ram: { buffer: ram.memory.buffer, byteOffset: ram.memory.byteOffset, layout: ram.memory.layout } }), onMessage: (_, m) => messages.push(m) });
  return {
    vm,
    ram,
    pio,
    host,
    messages,
    start: () => host.start(),
    async dispose() {
      await host.stop();
      const n = nativeKvm();
      n.close(vcpu.fd);
      n.close(ram.memfd);
      vm.close();
      kvm.close();
    },
  };
}
