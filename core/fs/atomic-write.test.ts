import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';

describe('writeFileAtomic', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'atomic-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('replaces the file and leaves no temp file behind', async () => {
    const d = tmp();
    const f = join(d, 'a.json');
    writeFileSync(f, 'old');
    await writeFileAtomic(f, 'new', { syncDir: true });
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(readdirSync(d)).toEqual(['a.json']);
  });

  it('keeps the old file and cleans up when the target cannot be replaced', async () => {
    const d = tmp();
    const target = join(d, 'sub');
    // A directory in the way: rename() fails after the temp file was written.
    await import('node:fs/promises').then((fs) => fs.mkdir(join(target, 'x'), { recursive: true }));
    await expect(writeFileAtomic(target, new Uint8Array([1, 2]))).rejects.toThrow();
    expect(readdirSync(d)).toEqual(['sub']);
  });

  it('fails with the file system error when the folder does not exist', async () => {
    await expect(writeFileAtomic(join(tmp(), 'missing', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
