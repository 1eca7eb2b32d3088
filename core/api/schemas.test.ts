import { describe, expect, it } from 'vitest';
import { Channels, REQUEST_CHANNELS } from './contract.js';
import { BadRequestError, parseArgs, RequestArgs } from './schemas.js';

describe('request validation', () => {
  it('accepts well-formed requests', () => {
    expect(parseArgs(Channels.listProfiles, [])).toEqual([]);
    expect(parseArgs(Channels.getDemoProfile, [])).toEqual([]);
    expect(parseArgs(Channels.startVm, ['Interrupt Lab: hello'])).toEqual(['Interrupt Lab: hello']);
    expect(parseArgs(Channels.stopVm, ['vm-12'])).toEqual(['vm-12']);
    expect(parseArgs(Channels.saveProfile, [{ any: 'thing' }])).toEqual([{ any: 'thing' }]);
    expect(parseArgs(Channels.saveProfile, [{}, 'Old name'])).toEqual([{}, 'Old name']);
    expect(parseArgs(Channels.msixTable, ['vm-1', 'irq-lab0'])).toEqual(['vm-1', 'irq-lab0']);
    expect(parseArgs(Channels.msixTable, ['vm-1', 'irq-lab0', 2047, 1])).toEqual(['vm-1', 'irq-lab0', 2047, 1]);
    expect(parseArgs(Channels.fireVector, ['vm-1', 'irq-lab0', 5, undefined])).toEqual(['vm-1', 'irq-lab0', 5, undefined]);
    const data = new Uint8Array(4);
    expect(parseArgs(Channels.importImage, [{ kind: 'bytes', name: 'a.img', data }])).toEqual([{ kind: 'bytes', name: 'a.img', data }]);
    expect(parseArgs(Channels.importImage, [{ kind: 'path', path: '/a.img' }])).toEqual([{ kind: 'path', path: '/a.img' }]);
    expect(parseArgs(Channels.xenBindVcpu, ['vm-3', 131071, 63])).toEqual(['vm-3', 131071, 63]);
    expect(parseArgs(Channels.setSettings, [{ profilesDir: '/p' }])).toEqual([{ profilesDir: '/p' }]);
    expect(parseArgs(Channels.sendConsole, ['vm-1', 'ls\n'])).toEqual(['vm-1', 'ls\n']);
  });

  it('has a schema for every channel of the contract', () => {
    for (const channel of REQUEST_CHANNELS) expect(RequestArgs[channel], channel).toBeDefined();
  });

  it.each([
    [Channels.listProfiles, ['extra'], 'bad request on vmm:list-profiles'],
    [Channels.startVm, [], 'bad request on vmm:start-vm'],
    [Channels.startVm, [''], 'bad request on vmm:start-vm (argument 0)'],
    [Channels.startVm, ['x'.repeat(65)], '(argument 0)'],
    [Channels.startVm, [{ name: 'x' }], '(argument 0)'],
    [Channels.startVm, ['a', 'b'], 'bad request on vmm:start-vm'],
    [Channels.stopVm, ['1'], 'bad request on vmm:stop-vm (argument 0)'],
    [Channels.stopVm, ['vm-0'], '(argument 0)'],
    [Channels.stopVm, ['vm-1; rm -rf /'], '(argument 0)'],
    [Channels.stopVm, [1], '(argument 0)'],
    [Channels.msixTable, ['vm-1', 'irq-lab0', 2048], '(argument 2)'],
    [Channels.msixTable, ['vm-1', 'irq-lab0', 0, 0], '(argument 3)'],
    [Channels.fireVector, ['vm-1', 'irq-lab0', 1.5], '(argument 2)'],
    [Channels.fireVector, ['vm-1', 'irq-lab0', 1, 10_000_000], '(argument 3)'],
    [Channels.setVectorMask, ['vm-1', 'irq-lab0', 1, 'yes'], '(argument 3)'],
    [Channels.xenSend, ['vm-1', 1 << 17], '(argument 1)'],
    [Channels.xenBindVcpu, ['vm-1', 3, 64], '(argument 2)'],
    [Channels.importImage, [{ kind: 'bytes', name: 'a', data: [1, 2] }], '(argument 0.data)'],
    [Channels.importImage, [{ kind: 'bytes', name: '', data: new Uint8Array() }], '(argument 0.name)'],
    [Channels.importImage, [{ kind: 'url', url: 'http://x' }], '(argument 0.kind)'],
    [Channels.importImage, [{ kind: 'path', path: 'x'.repeat(5000) }], '(argument 0.path)'],
    [Channels.sendConsole, ['vm-1', 'x'.repeat(65 * 1024)], '(argument 1)'],
    [Channels.setSettings, [{ profilesDir: '/p', extra: 1 }], '(argument 0)'],
    [Channels.getProfile, ['x'.repeat(65)], '(argument 0)'],
    ['vmm:not-a-channel' as typeof Channels.listVms, [], 'unknown channel'],
    ['constructor' as typeof Channels.listVms, [], 'unknown channel'],
  ] as const)('rejects %s %j', (channel, args, message) => {
    const run = () => parseArgs(channel, [...args]);
    expect(run).toThrow(BadRequestError);
    expect(run).toThrow(message);
  });
});
