// Command-line parsing for `vmm`: turns argv into a command with validated options.
// Every mistake becomes a UsageError whose message says what was wrong and what to type.
import { parseArgs } from 'node:util';
import type { IrqchipMode } from '../machine/config.js';
import { CONTROL_USAGE, isControlVerb, parseControl, type ControlCommand } from './control-commands.js';
import { UsageError } from './usage-error.js';

export { UsageError };

export const USAGE = `usage:
  vmm run <profile.json | kernel image> [--cpus N] [--mem MiB] [--irqchip kernel|split]
          [--cmdline STR] [--initrd FILE] [--timeout S] [--stats] [--verbose]
          [--control SOCKET]
  vmm run --demo [options]      run the built-in demo VM (the hello lab guest)
  vmm stats [--json] SOCKET     interrupt statistics of a VM started with --control SOCKET
  vmm irq-state [--json] SOCKET LAPIC/IOAPIC/PIC/MSI-X state of such a VM (pauses it briefly)
${CONTROL_USAGE}
  vmm info                      print this host's KVM capabilities
  vmm help`;

export interface RunOptions {
  target?: string;
  demo: boolean;
  cpus?: number;
  memoryMiB?: number;
  irqchip?: IrqchipMode;
  cmdline?: string;
  initrd?: string;
  timeoutS?: number;
  verbose: boolean;
  /** Print the interrupt statistics table to stderr when the VM ends. */
  stats: boolean;
  /** Unix socket for `vmm stats` and other control clients. */
  control?: string;
}

export type Command =
  | { name: 'run'; options: RunOptions }
  | { name: 'stats'; socket: string; json: boolean }
  | { name: 'irq-state'; socket: string; json: boolean }
  | ControlCommand
  | { name: 'info' }
  | { name: 'help' };

function intOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

export function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') return { name: 'help' };
  if (name === 'info') {
    if (rest.length) throw new UsageError(`vmm info takes no arguments`);
    return { name: 'info' };
  }
  if (name === 'stats' || name === 'irq-state') return parseSocketCommand(name, rest);
  if (isControlVerb(name)) return parseControl(name, rest);
  if (name !== 'run') throw new UsageError(`unknown command "${name}"; try \`vmm help\``);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        demo: { type: 'boolean', default: false },
        cpus: { type: 'string' },
        mem: { type: 'string' },
        irqchip: { type: 'string' },
        cmdline: { type: 'string' },
        initrd: { type: 'string' },
        timeout: { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
        stats: { type: 'boolean', default: false },
        control: { type: 'string' },
      },
    });
  } catch (cause) {
    throw new UsageError((cause as Error).message, { cause });
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`vmm run takes one profile or kernel image, got ${positionals.length}`);
  if (!v.demo && positionals.length === 0) throw new UsageError('vmm run needs a profile or kernel image (or --demo)');
  if (v.demo && positionals.length) throw new UsageError('give either --demo or a profile/image, not both');
  if (v.irqchip !== undefined && v.irqchip !== 'kernel' && v.irqchip !== 'split') {
    throw new UsageError(`--irqchip must be "kernel" or "split", got "${v.irqchip}"`);
  }
  const timeout = v.timeout === undefined ? undefined : Number(v.timeout);
  if (timeout !== undefined && !(timeout > 0 && timeout <= 86400)) throw new UsageError(`--timeout must be a number of seconds (0 < S <= 86400), got "${v.timeout}"`);
  const mem = intOption('mem', v.mem, 16, 65536);
  if (mem !== undefined && mem % 2 !== 0) throw new UsageError(`--mem must be an even number of MiB, got ${mem}`);
  return {
    name: 'run',
    options: {
      target: positionals[0],
      demo: v.demo ?? false,
      cpus: intOption('cpus', v.cpus, 1, 64),
      memoryMiB: mem,
      irqchip: v.irqchip as IrqchipMode | undefined,
      cmdline: v.cmdline,
      initrd: v.initrd,
      timeoutS: timeout,
      verbose: v.verbose ?? false,
      stats: v.stats ?? false,
      control: v.control,
    },
  };
}

function parseSocketCommand(name: 'stats' | 'irq-state', rest: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  } catch (cause) {
    throw new UsageError((cause as Error).message, { cause });
  }
  if (parsed.positionals.length !== 1) throw new UsageError(`vmm ${name} needs the control socket of a running VM (vmm run --control SOCKET)`);
  return { name, socket: parsed.positionals[0]!, json: parsed.values.json ?? false };
}
