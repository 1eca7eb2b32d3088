// Run one machine to completion: the entry point hosts use (the CLI, Electron's VM host
// utility process, tests). Construction errors (bad image, missing KVM capability) reject;
// everything the guest does ends in a MachineResult.
import { Machine, type MachineIo, type MachineResult } from './machine.js';
import type { MachineConfig } from './config.js';

export interface RunIo extends MachineIo {
  signal?: AbortSignal;
  /** Called once the machine is built, before its vCPUs start (console input, pause/stop). */
  onMachine?(machine: Machine): void;
}

export async function runMachine(config: MachineConfig, io: RunIo = {}): Promise<MachineResult> {
  const machine = new Machine(config, io);
  io.onMachine?.(machine);
  const abort = (): void => void machine.stop();
  io.signal?.addEventListener('abort', abort, { once: true });
  try {
    if (io.signal?.aborted) return await machine.stop();
    await machine.start();
    return await machine.result;
  } finally {
    io.signal?.removeEventListener('abort', abort);
  }
}
