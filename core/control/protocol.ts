// The control protocol of a running VM host: JSON lines over a unix socket, one request
// object per line, one reply per request (plus stream messages after `stream`). Requests are
// validated with zod; anything malformed gets an error reply and never reaches the machine.
import { z } from 'zod';

export const MAX_LINE = 64 * 1024;

export const RequestSchema = z.discriminatedUnion('cmd', [
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('stats') }),
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('state') }),
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('pause') }),
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('resume') }),
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('stop') }),
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('irq-state') }),
  z.strictObject({ id: z.number().int().optional(), cmd: z.literal('stream'), hz: z.number().min(0.1).max(100).default(10) }),
]);
export type ControlRequest = z.output<typeof RequestSchema>;

export type ControlReply =
  | { id?: number; ok: true; value?: unknown }
  | { id?: number; ok: false; error: string };
