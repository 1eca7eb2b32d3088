// Runtime validation of the contract's requests, used where messages cross a trust
// boundary (main receiving from a renderer, the web server receiving from a page). Kept
// apart from contract.ts so the sandboxed preload and the renderer do not bundle zod.
// Every string and number is bounded: a request can never make the service allocate or
// loop on the sender's say-so.
import { z } from 'zod';
import { VmmError } from '../errors.js';
import { Channels, MAX_UPLOAD_BYTES, type RequestChannel, type Requests } from './contract.js';

export const PROFILE_NAME_MAX = 64;
export const PATH_MAX = 4096;
export const FILE_NAME_MAX = 255;
export const DEVICE_NAME_MAX = 64;
/** Console input per request: a paste, not a file transfer. */
export const CONSOLE_INPUT_MAX = 64 * 1024;
/** MSI-X tables hold at most 2048 entries (PCI 3.0 §6.8.2.3, Table Size is 11 bits). */
export const MSIX_VECTORS_MAX = 2048;
/** One fireVector request may raise a vector this many times. */
export const FIRE_COUNT_MAX = 1_000_000;
/** FIFO event channels address up to 2^17 ports (xen/include/public/event_channel.h). */
export const XEN_PORT_MAX = (1 << 17) - 1;
export const VCPU_MAX = 63;

export const VmIdSchema = z.string().regex(/^vm-[1-9]\d{0,9}$/);
const ProfileName = z.string().min(1).max(PROFILE_NAME_MAX);
const HostPath = z.string().min(1).max(PATH_MAX);
const Device = z.string().min(1).max(DEVICE_NAME_MAX);
const Vector = z.number().int().min(0).max(MSIX_VECTORS_MAX - 1);
const XenPort = z.number().int().min(0).max(XEN_PORT_MAX);

export const ImageSourceSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('path'), path: HostPath }),
  z.strictObject({
    kind: z.literal('bytes'),
    name: z.string().min(1).max(FILE_NAME_MAX),
    data: z.instanceof(Uint8Array).refine((d) => d.byteLength <= MAX_UPLOAD_BYTES, {
      message: `images sent as bytes are limited to ${MAX_UPLOAD_BYTES / (1024 * 1024)} MiB`,
    }),
  }),
]);

export const SettingsSchema = z.strictObject({ profilesDir: HostPath });

export const RequestArgs = {
  [Channels.listProfiles]: z.tuple([]),
  [Channels.getProfile]: z.tuple([ProfileName]),
  // The profile itself is validated by the core's schema, which reports field issues.
  [Channels.saveProfile]: z.tuple([z.unknown(), ProfileName.optional()]),
  [Channels.duplicateProfile]: z.tuple([ProfileName, ProfileName]),
  [Channels.deleteProfile]: z.tuple([ProfileName]),
  [Channels.getDemoProfile]: z.tuple([]),
  [Channels.importImage]: z.tuple([ImageSourceSchema]),
  [Channels.createVmFromImage]: z.tuple([HostPath, ProfileName.optional()]),
  [Channels.attachImage]: z.tuple([ProfileName, HostPath]),
  [Channels.listVms]: z.tuple([]),
  [Channels.startVm]: z.tuple([ProfileName]),
  [Channels.pauseVm]: z.tuple([VmIdSchema]),
  [Channels.resumeVm]: z.tuple([VmIdSchema]),
  [Channels.stopVm]: z.tuple([VmIdSchema]),
  [Channels.sendConsole]: z.tuple([VmIdSchema, z.string().max(CONSOLE_INPUT_MAX)]),
  [Channels.consoleBacklog]: z.tuple([VmIdSchema]),
  [Channels.statsSnapshot]: z.tuple([VmIdSchema]),
  [Channels.msixTable]: z.tuple([
    VmIdSchema,
    Device,
    Vector.optional(),
    z.number().int().min(1).max(MSIX_VECTORS_MAX).optional(),
  ]),
  [Channels.setVectorMask]: z.tuple([VmIdSchema, Device, Vector, z.boolean()]),
  [Channels.fireVector]: z.tuple([VmIdSchema, Device, Vector, z.number().int().min(1).max(FIRE_COUNT_MAX).optional()]),
  [Channels.routingTable]: z.tuple([VmIdSchema]),
  [Channels.xenPorts]: z.tuple([VmIdSchema]),
  [Channels.xenPirqs]: z.tuple([VmIdSchema]),
  [Channels.xenSend]: z.tuple([VmIdSchema, XenPort]),
  [Channels.xenBindVcpu]: z.tuple([VmIdSchema, XenPort, z.number().int().min(0).max(VCPU_MAX)]),
  [Channels.xenSetPortMask]: z.tuple([VmIdSchema, XenPort, z.boolean()]),
  [Channels.irqState]: z.tuple([VmIdSchema]),
  [Channels.getSettings]: z.tuple([]),
  [Channels.setSettings]: z.tuple([SettingsSchema]),
} satisfies { [C in RequestChannel]: z.ZodType<Requests[C]['args']> };

export class BadRequestError extends VmmError {}

/** Parse the argument list of a request or throw a short BadRequestError. */
export function parseArgs<C extends RequestChannel>(channel: C, args: unknown[]): Requests[C]['args'] {
  const schema = Object.hasOwn(RequestArgs, channel) ? (RequestArgs as Record<string, z.ZodType>)[channel] : undefined;
  if (!schema) throw new BadRequestError(`bad request: unknown channel ${String(channel).slice(0, 64)}`);
  const result = schema.safeParse(args);
  if (result.success) return result.data as Requests[C]['args'];
  const issue = result.error.issues[0];
  const at = issue && issue.path.length ? ` (argument ${issue.path.join('.')})` : '';
  throw new BadRequestError(`bad request on ${channel}${at}: ${issue?.message ?? 'invalid'}`, { cause: result.error });
}
