import { describe, expect, it } from 'vitest';
import { parseCommand, UsageError } from './args.js';

describe('vmm command line', () => {
  it('parses run with every option', () => {
    expect(parseCommand(['run', 'k.elf', '--cpus', '2', '--mem', '256', '--irqchip', 'split', '--timeout', '1.5', '--cmdline', 'a=b', '-v'])).toEqual({
      name: 'run',
      options: { target: 'k.elf', demo: false, cpus: 2, memoryMiB: 256, irqchip: 'split', cmdline: 'a=b', initrd: undefined, timeoutS: 1.5, verbose: true, stats: false, control: undefined },
    });
    expect(parseCommand(['run', '--demo'])).toMatchObject({ name: 'run', options: { demo: true, target: undefined } });
    expect(parseCommand(['info'])).toEqual({ name: 'info' });
    expect(parseCommand(['stats', '--json', '/tmp/vm.sock'])).toEqual({ name: 'stats', socket: '/tmp/vm.sock', json: true });
    expect(parseCommand(['irq-state', '/tmp/vm.sock'])).toEqual({ name: 'irq-state', socket: '/tmp/vm.sock', json: false });
    expect(parseCommand([])).toEqual({ name: 'help' });
  });

  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['run'], /needs a profile or kernel image/],
    [['run', 'a', 'b'], /one profile or kernel image, got 2/],
    [['run', '--demo', 'x.elf'], /either --demo or a profile/],
    [['run', 'k', '--cpus', '0'], /--cpus must be an integer from 1 to 64, got "0"/],
    [['run', 'k', '--cpus', '1.5'], /--cpus must be an integer/],
    [['run', 'k', '--mem', '33'], /--mem must be an even number/],
    [['run', 'k', '--mem', 'lots'], /--mem must be an integer/],
    [['run', 'k', '--irqchip', 'userspace'], /--irqchip must be "kernel" or "split"/],
    [['run', 'k', '--timeout=-1'], /--timeout must be a number of seconds/],
    [['run', 'k', '--timeout', 'soon'], /--timeout must be a number of seconds/],
    [['run', 'k', '--bogus'], /Unknown option '--bogus'/],
    [['info', 'extra'], /takes no arguments/],
    [['stats'], /needs the control socket/],
    [['irq-state', 'a', 'b'], /vmm irq-state needs the control socket/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommand(argv as string[])).toThrow(UsageError);
    expect(() => parseCommand(argv as string[])).toThrow(message);
  });
});
