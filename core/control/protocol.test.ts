// Control protocol schema: the interrupt-view and action commands, their defaults and limits.
import { describe, expect, it } from 'vitest';
import { RequestSchema } from './protocol.js';

const ok = (r: unknown) => RequestSchema.parse(r);
const bad = (r: unknown) => RequestSchema.safeParse(r).success;

describe('control protocol', () => {
  it('fills defaults for table windows and fire counts', () => {
    expect(ok({ cmd: 'msix-table', device: 'irq-lab0' })).toEqual({ cmd: 'msix-table', device: 'irq-lab0', first: 0, count: 256 });
    expect(ok({ cmd: 'fire-vector', device: 'irq-lab0', vector: 3 })).toEqual({ cmd: 'fire-vector', device: 'irq-lab0', vector: 3, count: 1 });
    expect(ok({ id: 7, cmd: 'xen-bind-vcpu', port: 5, vcpu: 1 })).toEqual({ id: 7, cmd: 'xen-bind-vcpu', port: 5, vcpu: 1 });
    for (const cmd of ['pci-devices', 'routing-table', 'xen-ports', 'xen-pirqs']) expect(ok({ cmd })).toEqual({ cmd });
  });

  it('rejects out-of-range and mistyped arguments and unknown keys', () => {
    expect(bad({ cmd: 'msix-table', device: 'x', count: 0 })).toBe(false);
    expect(bad({ cmd: 'msix-table', device: 'x', first: 2048 })).toBe(false);
    expect(bad({ cmd: 'set-vector-mask', device: 'x', vector: 2048, masked: true })).toBe(false);
    expect(bad({ cmd: 'set-vector-mask', device: 'x', vector: 1, masked: 'yes' })).toBe(false);
    expect(bad({ cmd: 'set-vector-mask', device: '', vector: 1, masked: true })).toBe(false);
    expect(bad({ cmd: 'fire-vector', device: 'x', vector: 1, count: 1_000_001 })).toBe(false);
    expect(bad({ cmd: 'xen-send', port: 0 })).toBe(false);
    expect(bad({ cmd: 'xen-send', port: 1.5 })).toBe(false);
    expect(bad({ cmd: 'xen-set-port-mask', port: 3 })).toBe(false);
    expect(bad({ cmd: 'xen-ports', extra: 1 })).toBe(false);
    expect(bad({ cmd: 'console', data: 'x'.repeat(4097) })).toBe(false);
  });

  it('carries an interrupt-state snapshot as an object (the machine validates its content)', () => {
    expect(ok({ cmd: 'save-irq-state' })).toEqual({ cmd: 'save-irq-state' });
    expect(ok({ id: 2, cmd: 'restore-irq-state', snapshot: { format: 'x' } })).toEqual({ id: 2, cmd: 'restore-irq-state', snapshot: { format: 'x' } });
    for (const snapshot of [undefined, null, 'x', [1], 3]) expect(bad({ cmd: 'restore-irq-state', snapshot })).toBe(false);
    expect(bad({ cmd: 'save-irq-state', snapshot: {} })).toBe(false);
  });
});
