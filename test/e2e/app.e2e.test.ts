// End-to-end tests of the desktop UI in browser mode (`npm run web`), in Debian's Chromium:
// the same renderer and the same API as Electron, over the WebSocket bridge. Each test is a
// user story from issue 5; screenshots land in test-results/e2e/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropFiles, findChromium, launchChromium, ROOT, screenshot, startWebApp, whyNoKvm, type WebApp } from './support/browser.js';

const chromiumPath = findChromium();
const noKvm = whyNoKvm();
const skip = 'missing' in chromiumPath ? chromiumPath.missing : noKvm;
if (skip) console.log(`e2e: skipped (${skip})`);

const STORM = 'Interrupt Lab: MSI-X storm';
const XEN = 'Interrupt Lab: Xen event channels';

describe.skipIf(skip !== undefined)('irqbench in the browser', () => {
  let app: WebApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    app = await startWebApp();
    browser = await launchChromium((chromiumPath as { path: string }).path);
    page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(app.url);
    await page.getByTestId('library').waitFor();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const card = (name: string) => page.locator(`[data-testid="profile-card"][data-name="${name}"]`);
  const openVm = async (name: string) => {
    await card(name).click();
    await page.getByTestId('btn-start').click();
    await expect.poll(() => page.getByTestId('vm-state').textContent(), { timeout: 30_000 }).toMatch(/running/);
  };
  const stopVm = async () => {
    await page.getByTestId('btn-stop').click();
    await expect.poll(() => page.getByTestId('vm-state').textContent(), { timeout: 30_000 }).toMatch(/exited|stopped|failed/);
  };

  it('lists the built-in Interrupt Lab VMs', async () => {
    await expect.poll(() => card(STORM).count()).toBe(1);
    await expect.poll(() => card(XEN).count()).toBe(1);
    await screenshot(page, '01-library');
  });

  it('refuses a dropped file that is not a guest image, saying why', async () => {
    await dropFiles(page, '[data-testid="library"]', [{ name: 'notes.txt', bytes: new TextEncoder().encode('just some text\n'), type: 'text/plain' }]);
    const result = page.getByTestId('drop-result').filter({ hasText: 'notes.txt' });
    await result.waitFor();
    await expect.poll(() => result.textContent()).toMatch(/not|cannot|unknown|no /i);
    expect(await result.getByTestId('btn-create-start').count()).toBe(0);
    await screenshot(page, '02-bad-drop');
  });

  it('drops a lab-guest kernel, creates and starts a VM with one click, and shows its console', async () => {
    const bytes = new Uint8Array(readFileSync(join(ROOT, 'guests', 'out', 'hello.elf')));
    await dropFiles(page, '[data-testid="library"]', [{ name: 'hello.elf', bytes }]);
    const result = page.getByTestId('drop-result').filter({ hasText: 'hello.elf' });
    await expect.poll(() => result.textContent()).toMatch(/PVH|ELF/);
    await result.getByTestId('btn-create-start').click();
    const consoleText = () => page.getByTestId('console').locator('.xterm-rows').textContent();
    await expect.poll(consoleText, { timeout: 30_000 }).toMatch(/hello/i);
    await screenshot(page, '03-dropped-guest-console');
    await expect.poll(() => card('hello').count()).toBeGreaterThan(0);
  });

  it('shows the live MSI-X table; a masked vector goes pending and is delivered on unmask', async () => {
    await openVm(STORM);
    await page.getByTestId('tab-devices').click();
    const rows = page.getByTestId('msix-row');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBeGreaterThan(8);
    const row = page.locator('[data-testid="msix-row"][data-index="5"]');
    const total = async () => Number((await row.getByTestId('msix-total').textContent())?.replace(/[^\d]/g, '') || 0);
    const first = await total();
    await expect.poll(total, { timeout: 20_000 }).toBeGreaterThan(first);
    await screenshot(page, '04-msix-live');

    await row.getByTestId('btn-mask').click();
    await expect.poll(() => row.getByTestId('msix-masked').textContent(), { timeout: 10_000 }).toMatch(/yes|masked|✓/i);
    await expect.poll(() => row.getByTestId('msix-pending').textContent(), { timeout: 10_000 }).toMatch(/yes|pending|✓/i);
    await screenshot(page, '05-msix-masked-pending');

    const delivered = async () => Number((await row.getByTestId('msix-delivered-after-unmask').textContent())?.replace(/[^\d]/g, '') || 0);
    const before = await delivered();
    await row.getByTestId('btn-unmask').click();
    await expect.poll(delivered, { timeout: 10_000 }).toBeGreaterThan(before);
    await screenshot(page, '06-msix-unmasked-delivered');
  });

  it('shows the GSI routing table and exports statistics as CSV', async () => {
    await page.getByTestId('tab-routing').click();
    await expect.poll(() => page.getByTestId('routing-row').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await screenshot(page, '07-routing');
    await page.getByTestId('tab-dashboard').click();
    await page.getByTestId('chart-rates').waitFor();
    // The storm keeps firing: the dashboard's interrupt rate is live, not a stale zero.
    const rate = async () => Number((await page.getByTestId('total-rate').textContent())?.replace(/[^\d.]/g, '') || 0);
    await expect.poll(rate, { timeout: 15_000 }).toBeGreaterThan(0);
    await screenshot(page, '08-dashboard');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('btn-export-csv').click()]);
    const path = await download.path();
    const csv = readFileSync(path, 'utf8');
    const lines = csv.trim().split('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(lines[0]).toMatch(/,/);
    expect(csv).toMatch(/pci\.irq-lab/);
    await stopVm();
  });

  it("opens a Xen VM's event-channel port and PIRQ tables and injects an event", async () => {
    await openVm(XEN);
    await page.getByTestId('tab-xen').click();
    const ports = page.getByTestId('xen-port-row');
    await expect.poll(() => ports.count(), { timeout: 30_000 }).toBeGreaterThan(2);
    await expect.poll(() => page.getByTestId('xen-pirq-row').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await screenshot(page, '09-xen-tables');
    const first = ports.first();
    const port = await first.getAttribute('data-port');
    const text = async () => (await page.locator(`[data-testid="xen-port-row"][data-port="${port}"]`).textContent()) ?? '';
    const before = await text();
    await first.getByTestId('btn-xen-send').click();
    await expect.poll(text, { timeout: 10_000 }).not.toBe(before);
    await stopVm();
  });

  it('shows a profile error at the field and does not save it', async () => {
    await page.getByTestId('btn-new-vm').click();
    const editor = page.getByTestId('editor');
    await editor.waitFor();
    await editor.getByLabel(/cpus/i).fill('0');
    await expect.poll(() => page.getByTestId('field-error').count()).toBeGreaterThan(0);
    await screenshot(page, '10-editor-error');
  });
});
