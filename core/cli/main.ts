// `vmm`: the headless CLI. `run` builds a MachineConfig from a profile, a bare kernel image
// or the demo profile (plus overrides), puts the guest's serial console on stdin/stdout and
// exits with the guest's status. Diagnostics go to stderr, one line per problem.
import { existsSync } from 'node:fs';
import { dirname, resolve, extname } from 'node:path';
import { Kvm } from '../kvm/kvm.js';
import { DEFAULT_DEVICES, type MachineConfig } from '../machine/config.js';
import { ImageReadError, type Machine, type MachineResult } from '../machine/machine.js';
import { runMachine } from '../machine/run.js';
import { loadProfile, resolveProfile, assertBootFiles } from '../profiles/store.js';
import { demoProfile } from '../profiles/demo.js';
import { parseCommand, USAGE, UsageError, type RunOptions } from './args.js';
import { attachConsole } from './console.js';
import { sampleMachine, type MachineStats } from '../stats/machine-stats.js';
import { formatStats } from '../stats/format.js';
import { ControlServer } from '../control/server.js';
import { controlRequest } from '../control/client.js';
import type { InterruptState } from '../stats/irq-state.js';
import { formatInterruptState } from '../stats/irq-state-format.js';
import { runControl } from './control-commands.js';

/** Exit status when --timeout expires (as timeout(1) does). */
export const EXIT_TIMEOUT = 124;
export const EXIT_ERROR = 1;

async function configFor(o: RunOptions): Promise<MachineConfig> {
  let config: MachineConfig;
  if (o.demo) {
    config = resolveProfile(demoProfile(), process.cwd());
  } else if (extname(o.target!).toLowerCase() === '.json') {
    const path = resolve(o.target!);
    config = resolveProfile(await loadProfile(path), dirname(path));
  } else {
    const kernel = resolve(o.target!);
    if (!existsSync(kernel)) throw new ImageReadError(`kernel image ${o.target} not found (${kernel}); check the path`);
    config = {
      name: o.target!,
      cpus: 1,
      memoryMiB: 128,
      irqchip: 'kernel',
      boot: { kind: 'auto', kernel: resolve(o.target!), cmdline: '' },
      devices: DEFAULT_DEVICES.map((d) => ({ ...d })),
    };
  }
  if (o.cpus !== undefined) config.cpus = o.cpus;
  if (o.memoryMiB !== undefined) config.memoryMiB = o.memoryMiB;
  if (o.irqchip !== undefined) config.irqchip = o.irqchip;
  if (o.cmdline !== undefined) config.boot.cmdline = o.cmdline;
  if (o.initrd !== undefined) config.boot.initrd = resolve(o.initrd);
  await assertBootFiles(config);
  return config;
}

async function run(o: RunOptions): Promise<number> {
  const config = await configFor(o);
  let machine: Machine | undefined;
  let timedOut = false;
  let detach = (): void => {};
  const timer = o.timeoutS
    ? setTimeout(() => {
        timedOut = true;
        void machine?.stop();
      }, o.timeoutS * 1000)
    : undefined;
  let result: MachineResult;
  let finalStats: MachineStats | undefined;
  let control: Promise<ControlServer | undefined> | undefined;
  try {
    result = await runMachine(config, {
      onConsole: (b) => process.stdout.write(b),
      onLog: (line) => o.verbose && process.stderr.write(`vmm: ${line}\n`),
      onMachine: (m) => {
        machine = m;
        detach = attachConsole(m, () => void m.stop());
        if (o.control) {
          control = ControlServer.listen(m, o.control).catch((e: Error) => {
            process.stderr.write(`vmm: ${e.message}\n`);
            return undefined;
          });
        }
      },
      // Sampled as the VM ends, before its KVM fds are closed.
      onEnding: o.stats ? (m) => (finalStats = sampleMachine(m)) : undefined,
    });
  } finally {
    clearTimeout(timer);
    detach();
    (await control)?.close();
  }
  if (finalStats) process.stderr.write(`\n${formatStats(finalStats)}\n`);
  if (timedOut) {
    process.stderr.write(`vmm: ${config.name}: timed out after ${o.timeoutS} s\n`);
    return EXIT_TIMEOUT;
  }
  if (result.reason === 'crash' && !o.verbose) {
    // The register dump is the useful part of a crash; show it even without --verbose.
    for (const line of machine!.log.filter((l) => l.startsWith('vcpu') || l.startsWith('  '))) process.stderr.write(`vmm: ${line}\n`);
  }
  if (result.reason !== 'debug-exit' || o.verbose) process.stderr.write(`vmm: ${config.name}: ${result.reason}: ${result.detail}\n`);
  return result.status;
}

async function stats(socket: string, json: boolean): Promise<number> {
  const value = (await controlRequest(socket, { cmd: 'stats' })) as MachineStats;
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${formatStats(value)}\n`);
  return 0;
}

async function irqState(socket: string, json: boolean): Promise<number> {
  const value = (await controlRequest(socket, { cmd: 'irq-state' })) as InterruptState;
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${formatInterruptState(value)}\n`);
  return 0;
}

function info(): number {
  const kvm = Kvm.open();
  const caps = kvm.capabilities();
  process.stdout.write(`/dev/kvm: API version 12, vCPU mmap size ${kvm.vcpuMmapSize()} bytes\n`);
  const width = Math.max(...[...caps.keys()].map((k) => k.length));
  for (const [name, value] of caps) {
    process.stdout.write(`  KVM_CAP_${name.padEnd(width)}  ${value > 0 ? `yes${value > 1 ? ` (${value})` : ''}` : 'no'}\n`);
  }
  kvm.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    const cmd = parseCommand(argv);
    if (cmd.name === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (cmd.name === 'info') return info();
    if (cmd.name === 'stats') return await stats(cmd.socket, cmd.json);
    if (cmd.name === 'irq-state') return await irqState(cmd.socket, cmd.json);
    if (cmd.name === 'control') return await runControl(cmd);
    return await run(cmd.options);
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`vmm: ${err.message}\n`);
    if (e instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    if (process.env.VMM_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    return EXIT_ERROR;
  }
}
