// `vmm` sub-commands that act on a running VM's control socket (started with `vmm run
// --control SOCKET`): the MSI-X table, GSI routes, Xen ports and PIRQs as tables, and the
// host-side actions (mask, unmask, fire, Xen send / bind-vcpu / port mask), pause / resume,
// and a Xen VM's interrupt state saved to / restored from a file. parseControl turns argv
// into one control request (validated again by the server's zod schema); runControl sends
// it (adding a restored snapshot read from its file) and prints the reply.
import { parseArgs } from 'node:util';
import type { MsixTableView, RoutingTableView, XenPirqView, XenPortsView } from '../api/contract.js';
import { ControlClientError, controlRequest } from '../control/client.js';
import { UsageError } from './usage-error.js';
import { MAX_LINE } from '../control/protocol.js';
import { readSnapshotFile, SnapshotFileError, writeSnapshotFile } from './irq-state-file.js';
import { formatMsixTable, formatPirqs, formatPorts, formatRoutes } from './control-format.js';

export const CONTROL_USAGE = `  vmm msix [--json] [--first N] [--count N] SOCKET DEVICE
                                the MSI-X table of a PCI device (decoded, masked, pending, counts)
  vmm routes [--json] SOCKET    the GSI routing table (fixed routes, MSI routes and their owners)
  vmm ports [--json] SOCKET     Xen event-channel ports        vmm pirqs [--json] SOCKET  Xen PIRQs
  vmm mask|unmask SOCKET DEVICE VECTOR   mask or unmask an MSI-X vector from the host
  vmm fire SOCKET DEVICE VECTOR [COUNT]  raise an irq-lab vector COUNT times (default 1)
  vmm send SOCKET PORT          inject an event on a Xen port
  vmm bind-vcpu SOCKET PORT VCPU         move a Xen port to another vCPU
  vmm mask-port|unmask-port SOCKET PORT  mask or unmask a Xen port
  vmm pause|resume SOCKET       pause or resume the VM's vCPUs
  vmm save-irq-state SOCKET FILE         save a Xen VM's interrupt state (event channels, PIRQs,
                                timers) to FILE as JSON; a running VM is paused for it briefly
  vmm restore-irq-state SOCKET FILE      restore that state from FILE (pause the VM first)`;

type Verb =
  | 'msix' | 'routes' | 'ports' | 'pirqs' | 'mask' | 'unmask' | 'fire' | 'send' | 'bind-vcpu' | 'mask-port' | 'unmask-port'
  | 'pause' | 'resume' | 'save-irq-state' | 'restore-irq-state';
const ARITY: Record<Verb, [min: number, max: number, usage: string]> = {
  msix: [2, 2, 'SOCKET DEVICE'],
  routes: [1, 1, 'SOCKET'],
  ports: [1, 1, 'SOCKET'],
  pirqs: [1, 1, 'SOCKET'],
  mask: [3, 3, 'SOCKET DEVICE VECTOR'],
  unmask: [3, 3, 'SOCKET DEVICE VECTOR'],
  fire: [3, 4, 'SOCKET DEVICE VECTOR [COUNT]'],
  send: [2, 2, 'SOCKET PORT'],
  'bind-vcpu': [3, 3, 'SOCKET PORT VCPU'],
  'mask-port': [2, 2, 'SOCKET PORT'],
  'unmask-port': [2, 2, 'SOCKET PORT'],
  pause: [1, 1, 'SOCKET'],
  resume: [1, 1, 'SOCKET'],
  'save-irq-state': [2, 2, 'SOCKET FILE'],
  'restore-irq-state': [2, 2, 'SOCKET FILE'],
};

export const isControlVerb = (name: string): name is Verb => Object.hasOwn(ARITY, name);

export interface ControlCommand {
  name: 'control';
  verb: Verb;
  socket: string;
  request: { cmd: string } & Record<string, unknown>;
  json: boolean;
  /** save-irq-state writes the snapshot here; restore-irq-state reads it from here. */
  file?: string;
}

function int(what: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${what} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

export function parseControl(verb: Verb, argv: string[]): ControlCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, ...(verb === 'msix' && { first: { type: 'string' }, count: { type: 'string' } }) },
    });
  } catch (cause) {
    throw new UsageError((cause as Error).message, { cause });
  }
  const p = parsed.positionals;
  const [min, max, usage] = ARITY[verb];
  if (p.length < min || p.length > max) throw new UsageError(`usage: vmm ${verb} ${usage} (the socket of a VM started with --control SOCKET)`);
  const [socket, a, b, c] = p as [string, string, string, string];
  const v = parsed.values as { json?: boolean; first?: string; count?: string };
  const request = ((): ControlCommand['request'] => {
    switch (verb) {
      case 'msix':
        return { cmd: 'msix-table', device: a, first: v.first === undefined ? 0 : int('--first', v.first, 0, 2047), count: v.count === undefined ? 256 : int('--count', v.count, 1, 2048) };
      case 'routes':
        return { cmd: 'routing-table' };
      case 'ports':
        return { cmd: 'xen-ports' };
      case 'pirqs':
        return { cmd: 'xen-pirqs' };
      case 'mask':
      case 'unmask':
        return { cmd: 'set-vector-mask', device: a, vector: int('VECTOR', b, 0, 2047), masked: verb === 'mask' };
      case 'fire':
        return { cmd: 'fire-vector', device: a, vector: int('VECTOR', b, 0, 2047), count: c === undefined ? 1 : int('COUNT', c, 1, 1_000_000) };
      case 'send':
        return { cmd: 'xen-send', port: int('PORT', a, 1, 131071) };
      case 'bind-vcpu':
        return { cmd: 'xen-bind-vcpu', port: int('PORT', a, 1, 131071), vcpu: int('VCPU', b, 0, 253) };
      case 'mask-port':
      case 'unmask-port':
        return { cmd: 'xen-set-port-mask', port: int('PORT', a, 1, 131071), masked: verb === 'mask-port' };
      case 'pause':
      case 'resume':
      case 'save-irq-state':
        return { cmd: verb };
      case 'restore-irq-state':
        return { cmd: verb }; // runControl adds the snapshot read from FILE
    }
  })();
  const file = verb === 'save-irq-state' || verb === 'restore-irq-state' ? a : undefined;
  if (file === '') throw new UsageError(`vmm ${verb}: FILE must not be empty`);
  return { name: 'control', verb, socket, request, json: v.json ?? false, ...(file !== undefined && { file }) };
}

function describeAction(c: ControlCommand, value: unknown): string {
  const r = c.request;
  switch (c.verb) {
    case 'mask':
    case 'unmask':
      return `${r['device']} vector ${r['vector']} ${c.verb}ed`;
    case 'fire':
      return `${r['device']} vector ${r['vector']} fired ${r['count']} time${r['count'] === 1 ? '' : 's'}`;
    case 'send': {
      const s = value as { raised: number; outcome: string };
      return `port ${r['port']}: event ${s.raised === r['port'] ? '' : `on peer port ${s.raised} `}${s.outcome}`;
    }
    case 'bind-vcpu':
      return `port ${r['port']} now notifies vCPU ${r['vcpu']}`;
    case 'pause':
    case 'resume':
      return `the VM is ${(value as { state: string }).state}`;
    default:
      return `port ${r['port']} ${c.verb === 'mask-port' ? 'masked' : 'unmasked'}`;
  }
}

/** `vmm save-irq-state`: the snapshot goes to the file, a one-line summary to stdout. */
async function saveIrqState(c: ControlCommand & { file: string }): Promise<string> {
  const snap = (await controlRequest(c.socket, c.request)) as { xen?: { evtchn?: { ports?: unknown[] }; pirq?: { pirqs?: unknown[] } } };
  const bytes = await writeSnapshotFile(c.file, snap);
  const ports = snap.xen?.evtchn?.ports?.length ?? 0;
  const pirqs = snap.xen?.pirq?.pirqs?.length ?? 0;
  if (c.json) return JSON.stringify({ file: c.file, bytes, ports, pirqs }, null, 2);
  return `interrupt state saved to ${c.file} (${bytes} bytes: ${ports} bound ports, ${pirqs} PIRQs)`;
}

async function restoreIrqState(c: ControlCommand & { file: string }): Promise<string> {
  const snapshot = await readSnapshotFile(c.file);
  const request = { ...c.request, snapshot };
  if (JSON.stringify(request).length > MAX_LINE) throw new SnapshotFileError(`${c.file} is larger than any interrupt-state snapshot (${MAX_LINE} bytes as one line); is it the right file?`);
  // The VM checks this too; asking first lets the error name the command that fixes it.
  const { state } = (await controlRequest(c.socket, { cmd: 'state' })) as { state: string };
  if (state !== 'paused') throw new ControlClientError(`the VM is ${state}; restore needs a paused VM: run \`vmm pause ${c.socket}\` first`);
  await controlRequest(c.socket, request);
  if (c.json) return JSON.stringify({ file: c.file, restored: true }, null, 2);
  return `interrupt state restored from ${c.file}; the VM is still paused (vmm resume ${c.socket})`;
}

export async function runControl(c: ControlCommand): Promise<number> {
  if (c.file !== undefined) {
    const withFile = c as ControlCommand & { file: string };
    const text = c.verb === 'save-irq-state' ? await saveIrqState(withFile) : await restoreIrqState(withFile);
    process.stdout.write(`${text}\n`);
    return 0;
  }
  const value = await controlRequest(c.socket, c.request);
  let text: string;
  if (c.json) text = JSON.stringify(value ?? null, null, 2);
  else if (c.verb === 'msix') text = formatMsixTable(value as MsixTableView);
  else if (c.verb === 'routes') text = formatRoutes(value as RoutingTableView);
  else if (c.verb === 'ports') text = formatPorts(value as XenPortsView);
  else if (c.verb === 'pirqs') text = formatPirqs(value as XenPirqView[]);
  else text = describeAction(c, value);
  process.stdout.write(`${text}\n`);
  return 0;
}
