// MachineController without KVM: a machine stand-in with one PCI function whose MSI-X
// capability is real, to check argument validation, the error messages, and that a host
// mask is a Vector Control write (pending on mask, one delivery on unmask). The controller on
// a real machine is covered by test/integration/controls.test.ts.
import { describe, expect, it } from 'vitest';
import type { MsiMessage } from '../irq/types.js';
import { InterruptStateError } from '../machine/interrupt-snapshot.js';
import type { Machine } from '../machine/machine.js';
import type { PciDevice } from '../machine/pci-device.js';
import { PciHostBridge } from '../pci/host-bridge.js';
import { MSIX_CTRL_ENABLE } from '../pci/msix.js';
import { PciFunction } from '../pci/pci-function.js';
import { ControllerError, MachineController } from './commands.js';

function rig(state = 'running') {
  const fn = new PciFunction({ name: 'virtio-rng', header: { vendorId: 0x1af4, deviceId: 0x1044, classCode: 0xff0000 }, bars: [{ index: 1, kind: 'mem32', size: 4096, handler: { name: 'x', read: () => 0, write: () => {} } }] });
  const sent: [number, MsiMessage][] = [];
  const msix = fn.addMsix({ vectors: 4, tableBar: 1, tableOffset: 0, pbaBar: 1, pbaOffset: 0x800 }, { sender: { send: (v, m) => sent.push([v, m]) } });
  fn.config.write(msix.offset + 2, 2, MSIX_CTRL_ENABLE);
  msix.table.write(2 * 16, 4, 0xfee00000);
  msix.table.write(2 * 16 + 8, 4, 0x33);
  msix.table.write(2 * 16 + 12, 4, 0);
  const bridge = new PciHostBridge({ intxLine: () => ({ set: () => {} }) });
  bridge.addFunction(fn, { device: 4, function: 0 });
  const dev: PciDevice = { name: 'virtio-rng0', fn, state: 'running', start: async () => {}, stop: async () => {}, interruptStats: () => [] };
  const machine = {
    config: { name: 'vm', platform: 'kvm', devices: [{ type: 'virtio-rng' }] },
    state,
    pci: { bridge },
    pciDevices: [dev],
    devices: { uart: undefined },
  } as unknown as Machine;
  return { c: new MachineController(machine), msix, sent };
}

describe('MachineController', () => {
  it('lists PCI devices and reads their MSI-X table by name or address', async () => {
    const { c } = rig();
    expect(c.pciDevices()).toEqual([{ name: 'virtio-rng0', bdf: '00:04.0', type: 'virtio-rng', msixVectors: 4 }]);
    const t = await c.msixTable('00:04.0', 2, 8);
    expect(t).toMatchObject({ device: 'virtio-rng0', bdf: '00:04.0', first: 2, canFire: false });
    expect(t.entries.map((e) => [e.index, e.vector, e.masked])).toEqual([[2, 0x33, false], [3, 0, true]]);
  });

  it('masks through Vector Control: pending while masked, one delivery on unmask', () => {
    const { c, msix, sent } = rig();
    c.setVectorMask('virtio-rng0', 2, true);
    msix.notify(2);
    expect(msix.isPending(2)).toBe(true);
    expect(sent).toHaveLength(0);
    c.setVectorMask('virtio-rng0', 2, false);
    expect(msix.isPending(2)).toBe(false);
    expect(sent.map(([v]) => v)).toEqual([2]);
    expect(msix.stats.hostWrites).toBe(2);
  });

  it('says what is wrong with each argument', async () => {
    const { c } = rig();
    await expect(c.msixTable('nic0')).rejects.toThrow('no PCI device "nic0"; this VM has virtio-rng0');
    await expect(c.msixTable('virtio-rng0', 4)).rejects.toThrow('virtio-rng0: first 4 is out of range (the MSI-X table has vectors 0..3)');
    await expect(c.msixTable('virtio-rng0', 0, 2049)).rejects.toThrow(ControllerError);
    expect(() => c.setVectorMask('virtio-rng0', 1.5, true)).toThrow(/vector 1.5 is out of range/);
    expect(() => c.setVectorMask('', 1, true)).toThrow(/name a PCI device/);
    expect(() => c.fireVector('virtio-rng0', 0)).toThrow('virtio-rng0 cannot fire vectors from the host; only irq-lab devices can');
    expect(() => c.xenPorts()).toThrow(/vm is not a Xen VM \(platform kvm\)/);
    expect(() => c.sendConsole('x')).toThrow(/has no serial port/);
  });

  it('refuses actions on a machine that is not running or paused', () => {
    const { c } = rig('stopped');
    expect(() => c.setVectorMask('virtio-rng0', 2, true)).toThrow('cannot mask or unmask a vector: vm is stopped');
    expect(() => c.xenSend(1)).toThrow(/cannot send an event: vm is stopped/);
  });
});

/** A machine stand-in for interrupt-state save/restore: records pause/resume and what it saw. */
function snapshotRig(state: string, platform: 'kvm' | 'xen-hvm' = 'xen-hvm') {
  const log: string[] = [];
  const m = {
    config: { name: 'vm', platform, devices: [] },
    state,
    xen: platform === 'xen-hvm' ? {} : undefined,
    pause() {
      if (m.state === 'running') (log.push('pause'), (m.state = 'paused'));
    },
    resume() {
      if (m.state === 'paused') (log.push('resume'), (m.state = 'running'));
    },
    saveInterruptState: async () => {
      log.push(`save while ${m.state}`);
      return { format: 'irqbench/interrupt-state', version: 1, platform: 'xen-hvm', xen: {} };
    },
    restoreInterruptState: async (data: unknown) => {
      log.push(`restore while ${m.state}`);
      if ((data as { bad?: boolean }).bad) throw new InterruptStateError('not an irqbench interrupt-state snapshot');
    },
  };
  return { c: new MachineController(m as unknown as Machine), m, log };
}

describe('MachineController interrupt-state save/restore', () => {
  it('pauses a running VM for the save and resumes it; a paused VM stays paused', async () => {
    const running = snapshotRig('running');
    await expect(running.c.saveInterruptState()).resolves.toMatchObject({ platform: 'xen-hvm' });
    expect(running.log).toEqual(['pause', 'save while paused', 'resume']);
    expect(running.m.state).toBe('running');
    const paused = snapshotRig('paused');
    await paused.c.saveInterruptState();
    expect(paused.log).toEqual(['save while paused']);
    expect(paused.m.state).toBe('paused');
  });

  it('restores only on a paused VM and leaves it paused', async () => {
    const { c, m, log } = snapshotRig('running');
    await expect(c.restoreInterruptState({})).rejects.toThrow('cannot restore interrupt state: vm is running; pause it first');
    expect(log).toEqual([]);
    m.state = 'paused';
    await c.restoreInterruptState({});
    expect(log).toEqual(['restore while paused']);
    expect(m.state).toBe('paused');
  });

  it('turns the machine\'s refusals into ControllerErrors', async () => {
    const { c } = snapshotRig('paused');
    const e = await c.restoreInterruptState({ bad: true }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControllerError);
    expect((e as Error).message).toMatch(/not an irqbench interrupt-state snapshot/);
    expect((e as Error).cause).toBeInstanceOf(InterruptStateError);
  });

  it('says a kvm VM has no interrupt state to save, without pausing it', async () => {
    const { c, log } = snapshotRig('running', 'kvm');
    await expect(c.saveInterruptState()).rejects.toThrow(/vm is platform kvm, and only xen-hvm VMs have interrupt state to save.*irq-state/);
    await expect(c.restoreInterruptState({})).rejects.toBeInstanceOf(ControllerError);
    expect(log).toEqual([]);
    await expect(snapshotRig('stopped').c.saveInterruptState()).rejects.toThrow('cannot save interrupt state: vm is stopped');
  });
});
