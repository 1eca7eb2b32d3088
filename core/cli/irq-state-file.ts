// Interrupt-state snapshot files for `vmm save-irq-state` / `vmm restore-irq-state`. Saving
// writes the snapshot the control socket returned atomically (a temp file in the same
// folder, fsynced, renamed over FILE), so an error or a crash never leaves half a snapshot
// under FILE. Loading checks the size and that the file is a JSON object before anything is
// sent; what is inside is validated by the VM, which alone knows whether it fits.
import { readFile, stat } from 'node:fs/promises';
import { MAX_LINE } from '../control/protocol.js';
import { VmmError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

export class SnapshotFileError extends VmmError {}

/** Pretty-printed JSON is at most a few times its one-line form, which must fit MAX_LINE. */
export const MAX_SNAPSHOT_FILE = 4 * MAX_LINE;

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Write `value` as JSON to `path` atomically; returns the bytes written. */
export async function writeSnapshotFile(path: string, value: unknown): Promise<number> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  try {
    await writeFileAtomic(path, text);
  } catch (cause) {
    throw new SnapshotFileError(`cannot write ${path} (${codeOf(cause)}); check that the folder exists and is writable`, { cause });
  }
  return Buffer.byteLength(text);
}

/** Read a snapshot file: a JSON object of sane size (its content is the VM's to check). */
export async function readSnapshotFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new SnapshotFileError(`${path} is not a file; give a file written by \`vmm save-irq-state\``);
    if (st.size > MAX_SNAPSHOT_FILE) throw new SnapshotFileError(`${path} is ${st.size} bytes, larger than any interrupt-state snapshot (${MAX_SNAPSHOT_FILE}); is it the right file?`);
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (cause instanceof SnapshotFileError) throw cause;
    throw new SnapshotFileError(`cannot read ${path} (${codeOf(cause)})`, { cause });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new SnapshotFileError(`${path} is not JSON (${(cause as Error).message}); give a file written by \`vmm save-irq-state\``, { cause });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new SnapshotFileError(`${path} does not hold an interrupt-state snapshot (a JSON object); give a file written by \`vmm save-irq-state\``);
  }
  return data as Record<string, unknown>;
}
