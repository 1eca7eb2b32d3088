// The KVM layer on its own: a real-mode guest's port I/O reaches a TypeScript device on the
// host thread, the POST port is answered on the vCPU thread, and stop() interrupts a vCPU
// spinning inside KVM_RUN.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { rawRealModeVm } from '../support/raw-vm.js';
import type { IoDevice } from '../../core/bus/types.js';

const hasKvm = existsSync('/dev/kvm');
if (!hasKvm) console.log('SKIP kvm-raw: /dev/kvm is absent on this machine');

describe.skipIf(!hasKvm)('KVM layer with a raw real-mode guest', () => {
  it('routes IN/OUT to devices and stops a spinning vCPU', async () => {
    // mov dx,0x510; in al,dx; inc al; out dx,al; out 0x80,al; jmp $-2 (spin on the POST port)
    const code = Uint8Array.from([0xba, 0x10, 0x05, 0xec, 0xfe, 0xc0, 0xee, 0xe6, 0x80, 0xeb, 0xfc]);
    const vm = rawRealModeVm(code);
    const seen: number[] = [];
    let sawOut!: () => void;
    const outSeen = new Promise<void>((r) => (sawOut = r));
    const dev: IoDevice = {
      name: 'probe',
      read: () => 0x41,
      write: (_o, _s, v) => {
        seen.push(v);
        sawOut();
      },
    };
    vm.pio.register(0x510, 1, dev);
    await vm.start();
    await outSeen;
    // Let it spin on port 0x80 (handled on the vCPU thread), then stop it mid-loop.
    await new Promise((r) => setTimeout(r, 50));
    expect(vm.host.state).toBe('running');
    await vm.dispose();
    expect(seen).toEqual([0x42]);
    expect(vm.host.state).toBe('stopped');
    expect(vm.host.exitCount()).toBeGreaterThan(100);
  });
});
