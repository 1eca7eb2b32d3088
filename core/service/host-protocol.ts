// Messages between the service and a VM host process (one per VM). Both directions are
// validated: the host checks what it is asked to do (method and arguments), the service
// checks what a host reports (a host runs guest-facing code). Requests carry an id and get
// exactly one reply with that id.
import { z } from 'zod';
import type { MachineConfig } from '../machine/config.js';
import {
  MsixTableSchema,
  PciDevicesSchema,
  RoutingTableSchema,
  StatsMessageSchema,
  XenPirqsSchema,
  XenPortsSchema,
  MachineStatsSchema,
} from './view-schemas.js';

const device = z.string().min(1).max(64);
const vector = z.number().int().min(0).max(2047);
const port = z.number().int().min(0).max((1 << 17) - 1);

/** Host methods: argument tuples (checked in the host) and results (checked in the service). */
export const HostMethods = {
  stats: { args: z.tuple([]), result: MachineStatsSchema },
  pause: { args: z.tuple([]), result: z.unknown() },
  resume: { args: z.tuple([]), result: z.unknown() },
  irqState: { args: z.tuple([]), result: z.unknown() },
  pciDevices: { args: z.tuple([]), result: PciDevicesSchema },
  msixTable: {
    args: z.tuple([device, vector, z.number().int().min(1).max(2048)]),
    result: MsixTableSchema,
  },
  setVectorMask: { args: z.tuple([device, vector, z.boolean()]), result: z.unknown() },
  fireVector: { args: z.tuple([device, vector, z.number().int().min(1).max(1_000_000)]), result: z.unknown() },
  routingTable: { args: z.tuple([]), result: RoutingTableSchema },
  xenPorts: { args: z.tuple([]), result: XenPortsSchema },
  xenPirqs: { args: z.tuple([]), result: XenPirqsSchema },
  xenSend: { args: z.tuple([port]), result: z.unknown() },
  xenBindVcpu: { args: z.tuple([port, z.number().int().min(0).max(63)]), result: z.unknown() },
  xenSetPortMask: { args: z.tuple([port, z.boolean()]), result: z.unknown() },
} as const;
export type HostMethod = keyof typeof HostMethods;
export type HostArgs<M extends HostMethod> = z.output<(typeof HostMethods)[M]['args']>;
export type HostResult<M extends HostMethod> = z.output<(typeof HostMethods)[M]['result']>;

export type ServiceToHost =
  | { type: 'start'; config: MachineConfig; statsHz: number }
  | { type: 'stop' }
  | { type: 'console-in'; data: Uint8Array }
  | { type: 'call'; id: number; method: HostMethod; args: unknown[] };

export const ServiceToHostSchema = z.discriminatedUnion('type', [
  // The config comes from the service, which built it from a validated profile.
  z.strictObject({ type: z.literal('start'), config: z.looseObject({ name: z.string() }), statsHz: z.number().min(0.1).max(100) }),
  z.strictObject({ type: z.literal('stop') }),
  z.strictObject({ type: z.literal('console-in'), data: z.instanceof(Uint8Array).refine((d) => d.length <= 65536) }),
  z.strictObject({
    type: z.literal('call'),
    id: z.number().int().min(0),
    method: z.enum(Object.keys(HostMethods) as [HostMethod, ...HostMethod[]]),
    args: z.array(z.unknown()).max(8),
  }),
]);

export const HostToServiceSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('console'), data: z.instanceof(Uint8Array) }),
  z.strictObject({ type: z.literal('state'), state: z.string().min(1).max(64) }),
  z.strictObject({ type: z.literal('exit'), status: z.number().int(), reason: z.string().max(1000) }),
  z.strictObject({ type: z.literal('error'), name: z.string().max(100), message: z.string().max(2000) }),
  z.strictObject({ type: z.literal('stats'), msg: StatsMessageSchema }),
  z.strictObject({
    type: z.literal('reply'),
    id: z.number().int().min(0),
    ok: z.boolean(),
    value: z.unknown().optional(),
    error: z.strictObject({ name: z.string().max(100), message: z.string().max(2000) }).optional(),
  }),
]);
export type HostToService = z.output<typeof HostToServiceSchema>;
