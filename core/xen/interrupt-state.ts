// The saved form of a Xen HVM domain's interrupt state (machine-level snapshot, seed 003's
// post_load question): plain, versioned JSON holding PRIMARY data only — the event-channel
// port table and 2L/FIFO registrations, the PIRQ table with its GSI levels, HVM params
// (CALLBACK_IRQ among them), per-vCPU upcall vectors and timers as time remaining. Nothing
// derived (VIRQ/PIRQ → port maps, FIFO private tails, GSI → PIRQ map, callback line level,
// MSI vector provenance checks) is trusted from it: save-restore.ts recomputes those.
//
// A snapshot comes from outside (a file, the control socket), so it is hostile input: this
// module is the zod schema that shapes and range-checks it, and parseXenInterruptState()
// turns any problem into one XenStateError listing each bad field. Checks that need the
// machine (cpus, nr_pirqs, "is this GPA RAM") are done by the restorer before it changes
// anything. bigints (param values, nanoseconds) travel as decimal strings.
import { z } from 'zod';
import { VmmError } from '../errors.js';
import { NR_FIFO_PORTS, PortState } from './evtchn/port-table.js';
import { EVTCHN_FIFO_PRIORITY_MIN, MAX_EVENT_ARRAY_PAGES } from './evtchn/fifo.js';
import { MAX_NR_PIRQS, NR_IRQS_GSI } from './pirq/pirq-table.js';

export const XEN_INTERRUPT_STATE_FORMAT = 'irqbench/xen-interrupt-state';
export const XEN_INTERRUPT_STATE_VERSION = 1;
/** MAX vCPUs a machine may have (machine.ts validate). */
const MAX_VCPUS = 254;
/** Guest-physical addresses: below 2^52 (x86-64 MAXPHYADDR). */
const MAX_GPA = 2 ** 52;
/** HVM_NR_PARAMS (hypercalls/hvm-op.ts). */
const HVM_NR_PARAMS = 39;

export class XenStateError extends VmmError {}

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const gpa = int(0, MAX_GPA - 1);
const u64String = z.string().regex(/^\d{1,20}$/, 'a decimal string').refine((s) => BigInt(s) < 2n ** 64n, 'out of u64 range');

const portSchema = z.strictObject({
  port: int(1, NR_FIFO_PORTS - 1),
  state: int(PortState.UNBOUND, PortState.IPI),
  vcpu: int(0, MAX_VCPUS - 1),
  /** remote port / VIRQ / PIRQ (checked per state by the restorer). */
  arg: int(0, NR_FIFO_PORTS - 1),
  dom: int(0, 0xffff),
  priority: int(0, EVTCHN_FIFO_PRIORITY_MIN),
  shadow: z.literal(1).optional(),
});

const evtchnSchema = z.strictObject({
  version: z.literal(1),
  abi: z.enum(['2l', 'fifo']),
  sharedInfo: z.strictObject({ gpa, longMode: z.boolean() }).nullable(),
  vcpuInfo: z.array(gpa.nullable()).max(MAX_VCPUS),
  fifo: z.strictObject({
    controlBlocks: z.array(gpa.nullable()).max(MAX_VCPUS),
    arrayPages: z.array(gpa).max(MAX_EVENT_ARRAY_PAGES),
  }).nullable(),
  ports: z.array(portSchema).max(NR_FIFO_PORTS),
});

const pirqSchema = z.strictObject({
  version: z.literal(1),
  nrPirqs: int(NR_IRQS_GSI, MAX_NR_PIRQS),
  pirqs: z.array(z.strictObject({
    pirq: int(0, MAX_NR_PIRQS - 1),
    kind: z.enum(['unbound', 'gsi', 'msi-emu']),
    gsi: int(0, NR_IRQS_GSI - 1).optional(),
    msi: z.strictObject({ device: z.string().min(1).max(64), vector: int(0, 2047), isMsix: z.boolean(), masked: z.boolean() }).optional(),
  })).max(MAX_NR_PIRQS),
  gsiLevels: int(0, 2 ** NR_IRQS_GSI - 1),
});

const timerSchema = z.strictObject({
  /** Nanoseconds until the singleshot timer fires (0: due now). */
  singleshotInNs: u64String.optional(),
  periodNs: u64String.optional(),
  /** Nanoseconds until the periodic timer's next tick. */
  periodicInNs: u64String.optional(),
});

export const XenInterruptStateSchema = z.strictObject({
  format: z.literal(XEN_INTERRUPT_STATE_FORMAT),
  version: z.literal(XEN_INTERRUPT_STATE_VERSION),
  cpus: int(1, MAX_VCPUS),
  /** shared_info layout latch (hypercall MSR / CALLBACK_IRQ): true = 64-bit. */
  longMode: z.boolean(),
  /** HVMOP_set_param values by index (decimal strings), CALLBACK_IRQ included. */
  params: z.array(z.tuple([int(0, HVM_NR_PARAMS - 1), u64String])).max(HVM_NR_PARAMS),
  /** Per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector), 0 = none. */
  upcallVectors: z.array(z.union([z.literal(0), int(0x10, 0xff)])).max(MAX_VCPUS),
  timers: z.array(timerSchema).max(MAX_VCPUS),
  evtchn: evtchnSchema,
  pirq: pirqSchema,
});

export type XenInterruptState = z.infer<typeof XenInterruptStateSchema>;

/** Validate untrusted data as a snapshot; throws XenStateError naming every bad field. */
export function parseXenInterruptState(data: unknown): XenInterruptState {
  const format = (data as { format?: unknown } | null)?.format;
  const version = (data as { version?: unknown } | null)?.version;
  if (format === XEN_INTERRUPT_STATE_FORMAT && typeof version === 'number' && version !== XEN_INTERRUPT_STATE_VERSION) {
    throw new XenStateError(`Xen interrupt state version ${version} is not supported (this irqbench reads version ${XEN_INTERRUPT_STATE_VERSION})`);
  }
  const r = XenInterruptStateSchema.safeParse(data);
  if (r.success) return r.data;
  const text = r.error.issues.slice(0, 8).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
  const more = r.error.issues.length > 8 ? ` (+${r.error.issues.length - 8} more)` : '';
  throw new XenStateError(`invalid Xen interrupt state: ${text}${more}; save it again from a paused xen-hvm machine`, { cause: r.error });
}
