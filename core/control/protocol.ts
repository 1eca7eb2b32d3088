// The control protocol of a running VM host: JSON lines over a unix socket, one request
// object per line, one reply per request (plus stream messages after `stream`). Requests are
// validated with zod; anything malformed gets an error reply and never reaches the machine.
// Commands map one to one onto MachineController (commands.ts); the controller validates
// what zod cannot know (device names, table sizes, bound ports, vCPU counts).
import { z } from 'zod';

/**
 * Longest request line. The largest request is restore-irq-state carrying a snapshot: a
 * FIFO domain may have up to 2^17 bound ports (~70 bytes of JSON each) and 65536 PIRQs.
 */
export const MAX_LINE = 16 * 1024 * 1024;
/** MSI-X tables have at most 2048 entries (PCI 3.0 §6.8.2.3). */
const MSIX_VECTORS = 2048;
/** FIFO event channels go up to 2^17 ports; 2-level ones to 4096. */
const XEN_PORTS = 1 << 17;

const id = z.number().int().optional();
const device = z.string().min(1).max(64);
const vector = z.number().int().min(0).max(MSIX_VECTORS - 1);
const port = z.number().int().min(1).max(XEN_PORTS - 1);
const bare = <C extends string>(cmd: C) => z.strictObject({ id, cmd: z.literal(cmd) });

export const RequestSchema = z.discriminatedUnion('cmd', [
  bare('stats'),
  bare('state'),
  bare('pause'),
  bare('resume'),
  bare('stop'),
  bare('irq-state'),
  z.strictObject({ id, cmd: z.literal('stream'), hz: z.number().min(0.1).max(100).default(10) }),
  bare('pci-devices'),
  z.strictObject({
    id, cmd: z.literal('msix-table'), device,
    first: z.number().int().min(0).max(MSIX_VECTORS - 1).default(0),
    count: z.number().int().min(1).max(MSIX_VECTORS).default(256),
  }),
  z.strictObject({ id, cmd: z.literal('set-vector-mask'), device, vector, masked: z.boolean() }),
  z.strictObject({ id, cmd: z.literal('fire-vector'), device, vector, count: z.number().int().min(1).max(1_000_000).default(1) }),
  bare('routing-table'),
  bare('xen-ports'),
  bare('xen-pirqs'),
  z.strictObject({ id, cmd: z.literal('xen-send'), port }),
  z.strictObject({ id, cmd: z.literal('xen-bind-vcpu'), port, vcpu: z.number().int().min(0).max(253) }),
  z.strictObject({ id, cmd: z.literal('xen-set-port-mask'), port, masked: z.boolean() }),
  z.strictObject({ id, cmd: z.literal('console'), data: z.string().max(4096) }),
  // Xen HVM interrupt state (core/machine/interrupt-snapshot.ts); the snapshot's own schema
  // is checked by the machine, which also needs the machine to check it.
  bare('save-irq-state'),
  z.strictObject({ id, cmd: z.literal('restore-irq-state'), snapshot: z.record(z.string(), z.unknown()) }),
]);
export type ControlRequest = z.output<typeof RequestSchema>;
export type ControlCommand = ControlRequest['cmd'];

export type ControlReply =
  | { id?: number; ok: true; value?: unknown }
  | { id?: number; ok: false; error: string; /** Error class name ("ControllerError"), when the machine refused. */ name?: string };
