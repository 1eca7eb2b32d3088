// `vmm msix|routes|ports|pirqs|mask|unmask|fire|send|bind-vcpu|mask-port|unmask-port|pause|
// resume|save-irq-state|restore-irq-state`:
// argv to control requests, usage errors, and the text tables.
import { describe, expect, it } from 'vitest';
import { parseCommand, UsageError } from './args.js';
import { formatMsixTable, formatPirqs, formatPorts, formatRoutes } from './control-format.js';

const req = (argv: string[]) => {
  const c = parseCommand(argv);
  if (c.name !== 'control') throw new Error(`parsed as ${c.name}`);
  return c;
};

describe('control sub-commands', () => {
  it('turns argv into control requests', () => {
    expect(req(['msix', '/s', 'irq-lab0', '--first', '8', '--count', '4', '--json'])).toMatchObject({
      socket: '/s', json: true, request: { cmd: 'msix-table', device: 'irq-lab0', first: 8, count: 4 },
    });
    expect(req(['msix', '/s', 'irq-lab0']).request).toEqual({ cmd: 'msix-table', device: 'irq-lab0', first: 0, count: 256 });
    expect(req(['mask', '/s', 'irq-lab0', '5']).request).toEqual({ cmd: 'set-vector-mask', device: 'irq-lab0', vector: 5, masked: true });
    expect(req(['unmask', '/s', 'irq-lab0', '5']).request).toMatchObject({ masked: false });
    expect(req(['fire', '/s', 'irq-lab0', '5']).request).toEqual({ cmd: 'fire-vector', device: 'irq-lab0', vector: 5, count: 1 });
    expect(req(['fire', '/s', 'irq-lab0', '5', '100']).request).toMatchObject({ count: 100 });
    expect(req(['routes', '/s']).request).toEqual({ cmd: 'routing-table' });
    expect(req(['ports', '/s']).request).toEqual({ cmd: 'xen-ports' });
    expect(req(['pirqs', '/s']).request).toEqual({ cmd: 'xen-pirqs' });
    expect(req(['send', '/s', '3']).request).toEqual({ cmd: 'xen-send', port: 3 });
    expect(req(['bind-vcpu', '/s', '3', '1']).request).toEqual({ cmd: 'xen-bind-vcpu', port: 3, vcpu: 1 });
    expect(req(['mask-port', '/s', '3']).request).toEqual({ cmd: 'xen-set-port-mask', port: 3, masked: true });
    expect(req(['pause', '/s']).request).toEqual({ cmd: 'pause' });
    expect(req(['resume', '/s']).request).toEqual({ cmd: 'resume' });
    expect(req(['save-irq-state', '/s', 'irq.json'])).toMatchObject({ socket: '/s', file: 'irq.json', request: { cmd: 'save-irq-state' } });
    expect(req(['restore-irq-state', '--json', '/s', 'irq.json'])).toMatchObject({ socket: '/s', file: 'irq.json', json: true, request: { cmd: 'restore-irq-state' } });
    expect(req(['pause', '/s']).file).toBeUndefined();
  });

  it('needs a socket and a file for interrupt-state save/restore', () => {
    expect(() => parseCommand(['save-irq-state', '/s'])).toThrow(/usage: vmm save-irq-state SOCKET FILE/);
    expect(() => parseCommand(['restore-irq-state', '/s', 'a', 'b'])).toThrow(/usage: vmm restore-irq-state SOCKET FILE/);
    expect(() => parseCommand(['restore-irq-state', '/s', ''])).toThrow(/FILE must not be empty/);
    expect(() => parseCommand(['pause'])).toThrow(/usage: vmm pause SOCKET/);
    expect(() => parseCommand(['resume', '/s', 'x'])).toThrow(UsageError);
  });

  it('says what is wrong', () => {
    expect(() => parseCommand(['mask', '/s', 'irq-lab0'])).toThrow(UsageError);
    expect(() => parseCommand(['mask', '/s', 'irq-lab0'])).toThrow(/usage: vmm mask SOCKET DEVICE VECTOR/);
    expect(() => parseCommand(['fire', '/s', 'irq-lab0', 'x'])).toThrow(/VECTOR must be an integer from 0 to 2047, got "x"/);
    expect(() => parseCommand(['msix', '/s', 'd', '--count', '0'])).toThrow(/--count/);
    expect(() => parseCommand(['routes', '/s', '--first', '1'])).toThrow(UsageError);
    expect(() => parseCommand(['send', '/s', '0'])).toThrow(/PORT/);
  });

  it('prints readable tables', () => {
    const msix = formatMsixTable({
      device: 'irq-lab0', bdf: '00:03.0', enabled: true, functionMasked: false, vectors: 2048, tableBar: 1, tableOffset: 0, pbaBar: 2, pbaOffset: 0, first: 5, canFire: true,
      entries: [{ index: 5, addressLo: 0xfee01000, addressHi: 0, data: 0x25, masked: true, pending: true, dest: 1, vector: 0x25, destMode: 'physical', deliveryMode: 'Fixed', trigger: 'edge', gsi: 29, path: 'userspace', total: 7, coalesced: 1, firedWhileMasked: 2, deliveredAfterUnmask: 1, hostWrites: 2 }],
    });
    expect(msix).toMatch(/irq-lab0 00:03.0: MSI-X 2048 vectors, enabled/);
    expect(msix.split('\n')[3]).toMatch(/^5\s+0x00000000_fee01000\s+0x00000025\s+1\s+0x25\s+Fixed\/phys\s+edge\s+MP\s+29\s+userspace\s+7\s+1\s+2\s+1\s+2\s+-$/);
    expect(formatRoutes({ entries: [{ gsi: 24, kind: 'msi', owner: 'pci 00:03.0 irq-lab0 v0', addressLo: 0xfee00000, addressHi: 0, data: 0x20, dest: 0, vector: 0x20, updates: 1 }], stats: { entries: 1, maxRoutes: 4096 } }))
      .toMatch(/24\s+msi\s+pci 00:03.0 irq-lab0 v0\s+0x00000000_fee00000\s+0x00000020\s+0\s+0x20\s+1/);
    expect(formatPorts({ abi: '2l', vcpus: 2, ports: [{ port: 3, type: 'ipi', vcpu: 1, priority: 7, pending: true, masked: false, detail: '', sends: 4, deliveries: 3, coalesced: 1, maskedPending: 0, upcalls: 3 }] }))
      .toMatch(/3\s+ipi\s+-\s+1\s+7\s+-P\s+4\s+3\s+1\s+0\s+3/);
    expect(formatPirqs([{ pirq: 16, source: 'gsi 5', port: 7, count: 4, dropped: 0 }])).toMatch(/16\s+gsi 5\s+7\s+4\s+0\s+-/);
    expect(formatPirqs([])).toBe('no PIRQs mapped');
  });
});
