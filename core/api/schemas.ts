// Runtime validation of the contract's requests, used where messages cross a trust
// boundary (main receiving from a renderer). Kept apart from contract.ts so the sandboxed
// preload and the renderer do not bundle zod.
import { z } from 'zod';
import { VmmError } from '../errors.js';
import { Channels, type RequestChannel, type Requests } from './contract.js';

export const PROFILE_NAME_MAX = 64;
export const VmIdSchema = z.string().regex(/^vm-[1-9]\d{0,9}$/);

export const RequestArgs = {
  [Channels.listProfiles]: z.tuple([]),
  [Channels.getDemoProfile]: z.tuple([]),
  [Channels.startVm]: z.tuple([z.string().min(1).max(PROFILE_NAME_MAX)]),
  [Channels.stopVm]: z.tuple([VmIdSchema]),
} satisfies { [C in RequestChannel]: z.ZodType<Requests[C]['args']> };

export class BadRequestError extends VmmError {}

/** Parse the argument list of a request or throw a short BadRequestError. */
export function parseArgs<C extends RequestChannel>(channel: C, args: unknown[]): Requests[C]['args'] {
  const result = RequestArgs[channel].safeParse(args);
  if (result.success) return result.data as Requests[C]['args'];
  const issue = result.error.issues[0];
  const at = issue && issue.path.length ? ` (argument ${issue.path.join('.')})` : '';
  throw new BadRequestError(`bad request on ${channel}${at}: ${issue?.message ?? 'invalid'}`, { cause: result.error });
}
