// `npm start`'s choice between the desktop app and browser mode, and `npm run web`'s
// arguments. The scripts are plain ESM; their decisions are pure functions of the env.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWebArgs } from './main.js';

// @ts-expect-error -- plain ESM script without type declarations
const { chooseMode } = (await import('../scripts/start.mjs')) as {
  chooseMode(env: Record<string, string | undefined>, platform: string): { mode: string; exe?: string; reason?: string };
};

const dist = mkdtempSync(join(tmpdir(), 'irqbench-electron-dist-'));
afterAll(() => rmSync(dist, { recursive: true, force: true }));

describe('npm start', () => {
  it('runs Electron only with a binary and a display, else browser mode with the reason', () => {
    const noBinary = chooseMode({ ELECTRON_OVERRIDE_DIST_PATH: dist, DISPLAY: ':0' }, 'linux');
    expect(noBinary).toMatchObject({ mode: 'web', reason: expect.stringContaining('has no Electron binary') });
    writeFileSync(join(dist, 'electron'), '');
    expect(chooseMode({ ELECTRON_OVERRIDE_DIST_PATH: dist, DISPLAY: ':0' }, 'linux')).toEqual({ mode: 'electron', exe: join(dist, 'electron') });
    expect(chooseMode({ ELECTRON_OVERRIDE_DIST_PATH: dist }, 'linux')).toMatchObject({ mode: 'web', reason: expect.stringContaining('no display') });
    expect(chooseMode({ ELECTRON_OVERRIDE_DIST_PATH: dist, WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toMatchObject({ mode: 'electron' });
  });
});

describe('npm run web arguments', () => {
  it('takes --port and --no-open and refuses anything else', () => {
    expect(parseWebArgs([])).toEqual({ port: 0, open: true });
    expect(parseWebArgs(['--port', '8080', '--no-open'])).toEqual({ port: 8080, open: false });
    expect(parseWebArgs(['--port=0'])).toEqual({ port: 0, open: true });
    expect(() => parseWebArgs(['--port', 'x'])).toThrow('--port needs a number');
    expect(() => parseWebArgs(['--port', '70000'])).toThrow('--port needs a number');
    expect(() => parseWebArgs(['--host', '0.0.0.0'])).toThrow('unknown option --host');
  });
});
