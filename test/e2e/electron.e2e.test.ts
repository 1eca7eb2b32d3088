// The desktop app itself, driven through playwright-core's Electron support. Gated: it runs
// only where an Electron binary and a display exist (scripts/start.mjs's findElectron and
// hasDisplay decide, as for `npm start`); elsewhere it prints why it skipped. The browser
// mode suite (app.e2e.test.ts) covers the same renderer and API on every machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, screenshot, whyNoKvm } from './support/browser.js';

// @ts-expect-error -- plain ESM script without type declarations
const { findElectron, hasDisplay } = (await import('../../scripts/electron-env.mjs')) as {
  findElectron(): { exe?: string; reason?: string };
  hasDisplay(): boolean;
};

const found = findElectron();
const skip = found.exe === undefined ? found.reason : !hasDisplay() ? 'no display (DISPLAY/WAYLAND_DISPLAY unset)' : whyNoKvm();
if (skip) console.log(`electron e2e: skipped (${skip})`);

describe.skipIf(skip !== undefined)('irqbench desktop app (Electron)', () => {
  let app: ElectronApplication;
  let configDir: string;

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'irqbench-electron-'));
    app = await electron.launch({ executablePath: found.exe!, args: [ROOT], cwd: ROOT, env: { ...process.env, XDG_CONFIG_HOME: configDir } });
  });

  afterAll(async () => {
    await app?.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('opens the library with the preload API in place and runs the demo VM to its console', async () => {
    const page = await app.firstWindow();
    await page.getByTestId('library').waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { vmm?: { mode: string } }).vmm?.mode)).toBe('electron');
    // The renderer has no Node: the preload API is its only door.
    expect(await page.evaluate(() => typeof (globalThis as unknown as { require?: unknown }).require)).toBe('undefined');
    await page.locator('[data-testid="profile-card"][data-name="Interrupt Lab: hello"]').click();
    await page.getByTestId('btn-start').click();
    await expect.poll(() => page.getByTestId('console').locator('.xterm-rows').textContent(), { timeout: 30_000 }).toMatch(/hello/i);
    await screenshot(page, 'electron-01-demo-console');
  });
});
