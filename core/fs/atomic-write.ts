// Atomic file replacement for everything the app saves (profiles, settings, interrupt-state
// snapshots): the data goes to a temp file in the same folder, is fsynced, then renamed over
// the target, so a reader (or a crash) sees the old file or the new one, never half of one.
// Errors are the file system's own; callers wrap them in their domain's error class.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { syncDir?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Persist the rename itself; a failure here does not undo a completed write.
  if (opts.syncDir) await syncDir(dir).catch(() => undefined);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
