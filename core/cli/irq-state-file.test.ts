// Snapshot files of `vmm save-irq-state|restore-irq-state`: atomic writes (no half file, no
// temp file left behind) and what a bad file is told.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSnapshotFile, SnapshotFileError, writeSnapshotFile } from './irq-state-file.js';

const dir = mkdtempSync(join(tmpdir(), 'vmm-irq-file-'));

describe('interrupt-state snapshot files', () => {
  it('writes JSON atomically over an existing file and reads it back', async () => {
    const file = join(dir, 'irq.json');
    writeFileSync(file, 'old');
    const snap = { format: 'irqbench/interrupt-state', version: 1, xen: { ports: [1, 2] } };
    const bytes = await writeSnapshotFile(file, snap);
    expect(bytes).toBe(readFileSync(file).length);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(snap);
    expect(readdirSync(dir)).toEqual(['irq.json']);
    await expect(readSnapshotFile(file)).resolves.toEqual(snap);
  });

  it('leaves nothing behind when the folder is missing', async () => {
    await expect(writeSnapshotFile(join(dir, 'nope', 'irq.json'), {})).rejects.toThrow(/cannot write .*nope\/irq.json \(ENOENT\); check that the folder exists/);
  });

  it('says what is wrong with a file that is no snapshot', async () => {
    const write = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    await expect(readSnapshotFile(join(dir, 'missing.json'))).rejects.toThrow(/cannot read .*missing.json \(ENOENT\)/);
    await expect(readSnapshotFile(write('bad.json', '{"format":'))).rejects.toThrow(/bad.json is not JSON .*vmm save-irq-state/);
    await expect(readSnapshotFile(write('array.json', '[1]'))).rejects.toThrow(/does not hold an interrupt-state snapshot/);
    await expect(readSnapshotFile(write('null.json', 'null'))).rejects.toBeInstanceOf(SnapshotFileError);
    mkdirSync(join(dir, 'folder.json'));
    await expect(readSnapshotFile(join(dir, 'folder.json'))).rejects.toThrow(/is not a file/);
  });
});
