// Machine-level save/restore of interrupt state (Machine.saveInterruptState /
// restoreInterruptState). Today that is the Xen HVM domain's state (core/xen/save-restore.ts):
// event channels, PIRQs, HVM params, upcall vectors, timers. The envelope names the platform
// so other parts (IOAPIC, MSI-X tables) can join it later without a format break.
//
// Rules: save only when every vCPU has reported 'paused' (a fast-path send on a vCPU thread
// must not be changing pending state while we read); restore only then or before the vCPUs
// first run. Both wait (without blocking the event loop, which answers forwarded exits)
// for the vCPUs to reach the paused state after Machine.pause(). The data is untrusted:
// the envelope and the Xen part are validated with zod, errors say what to do.
import { z } from 'zod';
import { VmmError } from '../errors.js';
import type { XenInterruptState } from '../xen/interrupt-state.js';
import type { XenPlatform } from '../xen/xen-platform.js';

export const INTERRUPT_STATE_FORMAT = 'irqbench/interrupt-state';
export const INTERRUPT_STATE_VERSION = 1;
const PAUSE_WAIT_MS = 3000;
const PAUSE_POLL_MS = 2;

export class InterruptStateError extends VmmError {}

export interface MachineInterruptState {
  format: typeof INTERRUPT_STATE_FORMAT;
  version: typeof INTERRUPT_STATE_VERSION;
  platform: 'xen-hvm';
  xen: XenInterruptState;
}

const Envelope = z.strictObject({
  format: z.literal(INTERRUPT_STATE_FORMAT),
  version: z.literal(INTERRUPT_STATE_VERSION),
  platform: z.literal('xen-hvm'),
  xen: z.unknown(),
});

/** What this module needs from the Machine. */
export interface SnapshotHost {
  readonly state: string;
  readonly xen?: XenPlatform;
  readonly vcpus: { id: number; reportedState(): string }[];
}

function xenOf(m: SnapshotHost): XenPlatform {
  if (!m.xen) throw new InterruptStateError('this machine has no interrupt state to save or restore (only platform xen-hvm has one)');
  return m.xen;
}

/** Wait until every vCPU reports 'paused' (after Machine.pause()). */
async function settled(m: SnapshotHost, what: string): Promise<void> {
  if (m.state !== 'paused') throw new InterruptStateError(`cannot ${what} interrupt state of a ${m.state} machine; pause it first`);
  const until = Date.now() + PAUSE_WAIT_MS;
  for (;;) {
    const busy = m.vcpus.filter((v) => v.reportedState() !== 'paused');
    if (busy.length === 0) return;
    if (m.state !== 'paused') throw new InterruptStateError(`the machine became ${m.state} while waiting to ${what} its interrupt state`);
    if (Date.now() > until) throw new InterruptStateError(`vCPU ${busy.map((v) => v.id).join(', ')} did not pause within ${PAUSE_WAIT_MS} ms; try again`);
    await new Promise((r) => setTimeout(r, PAUSE_POLL_MS));
  }
}

export async function saveInterruptState(m: SnapshotHost): Promise<MachineInterruptState> {
  const xen = xenOf(m);
  await settled(m, 'save');
  return { format: INTERRUPT_STATE_FORMAT, version: INTERRUPT_STATE_VERSION, platform: 'xen-hvm', xen: xen.saveInterruptState() };
}

export async function restoreInterruptState(m: SnapshotHost, data: unknown): Promise<void> {
  const xen = xenOf(m);
  const env = Envelope.safeParse(data);
  if (!env.success) {
    const text = env.error.issues.slice(0, 4).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new InterruptStateError(`not an irqbench interrupt-state snapshot (${text}); use one saved by saveInterruptState`, { cause: env.error });
  }
  if (m.state !== 'created') await settled(m, 'restore');
  xen.restoreInterruptState(env.data.xen);
}
