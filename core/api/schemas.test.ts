import { describe, expect, it } from 'vitest';
import { Channels } from './contract.js';
import { BadRequestError, parseArgs } from './schemas.js';

describe('request validation', () => {
  it('accepts well-formed requests', () => {
    expect(parseArgs(Channels.listProfiles, [])).toEqual([]);
    expect(parseArgs(Channels.getDemoProfile, [])).toEqual([]);
    expect(parseArgs(Channels.startVm, ['Interrupt Lab: hello'])).toEqual(['Interrupt Lab: hello']);
    expect(parseArgs(Channels.stopVm, ['vm-12'])).toEqual(['vm-12']);
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
  ] as const)('rejects %s %j', (channel, args, message) => {
    const run = () => parseArgs(channel, [...args]);
    expect(run).toThrow(BadRequestError);
    expect(run).toThrow(message);
  });
});
