// Messages between main and a VM host utility process (main/vm-host.ts). Main validates
// what a host sends: a host runs guest-facing code, so its messages are checked like any
// other input before they reach the renderer.
import { z } from 'zod';
import type { MachineConfig } from '../core/machine/config.js';

export type MainToHost = { type: 'start'; config: MachineConfig } | { type: 'stop' };

export const HostToMainSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('console'), data: z.instanceof(Uint8Array) }),
  z.strictObject({ type: z.literal('state'), state: z.string().min(1).max(64) }),
  z.strictObject({ type: z.literal('exit'), status: z.number().int(), reason: z.string().max(1000) }),
  z.strictObject({ type: z.literal('error'), name: z.string().max(100), message: z.string().max(2000) }),
]);
export type HostToMain = z.output<typeof HostToMainSchema>;
