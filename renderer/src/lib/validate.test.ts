import { describe, expect, it } from 'vitest';
import { PROFILE_VERSION } from '../../../core/profiles/schema.js';
import { newDevice, newProfileTemplate, DEVICE_TYPES } from './profile-template.js';
import { parseNumber, showNumber } from './parse-number.js';
import { issuesByPath, validateProfile } from './validate.js';

describe('validateProfile', () => {
  it('accepts the new-VM template', () => {
    expect(validateProfile(newProfileTemplate('New VM', '/guests/hello.elf'))).toEqual([]);
  });

  it('reports each problem at its field path with the core message', () => {
    const p = newProfileTemplate('x', '/k');
    const issues = validateProfile({
      ...p,
      cpus: 0,
      memoryMiB: 'lots',
      devices: [
        { type: 'uart16550', port: 0x3f8, irq: 4 },
        { type: 'uart16550', port: 0x3f8, irq: 3 },
        { type: 'irq-lab', msix: { vectors: 4096 } },
      ],
    });
    const byPath = issuesByPath(issues);
    expect(byPath.get('cpus')).toEqual(['must be at least 1']);
    expect(byPath.get('memoryMiB')).toEqual(['must be a number, not a string']);
    expect(byPath.get('devices[1].port')).toEqual(['port 0x3f8 is already used by devices[0]']);
    expect(byPath.get('devices[2].msix.vectors')).toEqual(['must be at most 2048']);
  });

  it('names unknown fields and a wrong version', () => {
    const issues = validateProfile({ ...newProfileTemplate('x', '/k'), cpu: 2, version: PROFILE_VERSION + 1 });
    expect(issues.map((i) => i.path)).toContain('version');
    expect(validateProfile({ ...newProfileTemplate('x', '/k'), cpu: 2 })).toEqual([{ path: 'cpu', message: 'unknown field' }]);
  });
});

describe('newDevice', () => {
  it('makes a valid device of every type, avoiding taken ports and slots', () => {
    const devices = newProfileTemplate('x', '/k').devices!;
    for (const { type } of DEVICE_TYPES) {
      const d = newDevice(type, devices);
      if (d.type === 'virtio-blk') d.image = '/disk.img';
      devices.push(d);
    }
    expect(validateProfile({ ...newProfileTemplate('x', '/k'), devices })).toEqual([]);
    const uarts = devices.filter((d) => d.type === 'uart16550');
    expect(uarts.map((d) => 'port' in d && d.port)).toEqual([0x3f8, 0x2f8]);
  });
});

describe('parseNumber', () => {
  it('reads decimal and hex, keeps other text for the schema to reject', () => {
    expect(parseNumber(' 42 ')).toBe(42);
    expect(parseNumber('0x3F8')).toBe(0x3f8);
    expect(parseNumber('')).toBeUndefined();
    expect(parseNumber('12k')).toBe('12k');
    expect(showNumber(0x3f8, true)).toBe('0x3f8');
    expect(showNumber(undefined)).toBe('');
    expect(showNumber('abc', true)).toBe('abc');
  });
});
