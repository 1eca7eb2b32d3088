// The real machine behind a VM host: core/machine/run.ts's runMachine and the control
// layer's MachineController. Kept apart from host-session.ts so Electron's bundled host
// entry can load this (and the whole machine) at run time from out/node, where the vCPU
// worker files live beside the modules.
import { MachineController } from '../control/commands.js';
import { runMachine } from '../machine/run.js';
import { serveHost, type HostPort } from './host-session.js';

export function serveVmHost(port: HostPort): void {
  serveHost(port, runMachine, (machine) => new MachineController(machine));
}
