// Browser-mode harness for the end-to-end tests: starts `npm run web` (scripts/web.mjs) on a
// random port with a private config folder, reads the URL with its token from the one line
// the server prints, and drives the page in Debian's Chromium through playwright-core.
// Screenshots go to test-results/e2e/ as test artifacts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const ARTIFACTS = join(ROOT, 'test-results', 'e2e');

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Debian's Chromium, or why the e2e suite cannot run here. */
export function findChromium(): { path: string } | { missing: string } {
  const env = process.env.IRQBENCH_CHROMIUM;
  if (env) return existsSync(env) ? { path: env } : { missing: `IRQBENCH_CHROMIUM=${env} does not exist` };
  const path = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  return path ? { path } : { missing: 'no Chromium found (apt-get install chromium, or set IRQBENCH_CHROMIUM)' };
}

export function whyNoKvm(): string | undefined {
  return existsSync('/dev/kvm') ? undefined : '/dev/kvm is absent';
}

export interface WebApp {
  url: string;
  origin: string;
  configDir: string;
  profilesDir: string;
  log: () => string;
  close(): Promise<void>;
}

const URL_LINE = /(http:\/\/127\.0\.0\.1:\d+\/\S*token=[0-9a-zA-Z_-]+)/;

/** Start browser mode on a random port with an empty profiles folder. */
export async function startWebApp(timeoutMs = 60_000): Promise<WebApp> {
  const configDir = mkdtempSync(join(tmpdir(), 'irqbench-e2e-'));
  const profilesDir = join(configDir, 'irqbench', 'profiles');
  mkdirSync(profilesDir, { recursive: true });
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'scripts', 'web.mjs'), '--port', '0', '--no-open'], {
    cwd: ROOT,
    env: { ...process.env, XDG_CONFIG_HOME: configDir, IRQBENCH_PROFILES_DIR: profilesDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode printed no URL within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = URL_LINE.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`browser mode exited with ${code} before printing its URL:\n${output}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    configDir,
    profilesDir,
    log: () => output,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium(path: string): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium refuses its own sandbox.
  return chromium.launch({ executablePath: path, args: ['--no-sandbox', '--disable-gpu'] });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Drop files on an element the way a file manager would: a real DataTransfer with File objects. */
export async function dropFiles(page: Page, selector: string, files: { name: string; bytes: Uint8Array; type?: string }[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, type: f.type ?? 'application/octet-stream', b64: Buffer.from(f.bytes).toString('base64') }));
  // Runs in the page; Node's type library has no DOM, hence the local types.
  type Dt = { items: { add(f: unknown): void } };
  type Ctors = { DataTransfer: new () => Dt; File: new (parts: Uint8Array[], name: string, o: { type: string }) => unknown };
  const dataTransfer = await page.evaluateHandle((list) => {
    const g = globalThis as unknown as Ctors;
    const dt = new g.DataTransfer();
    for (const f of list) {
      const bin = atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new g.File([bytes], f.name, { type: f.type }));
    }
    return dt;
  }, payload);
  const target = page.locator(selector).first();
  await target.dispatchEvent('dragenter', { dataTransfer });
  await target.dispatchEvent('dragover', { dataTransfer });
  await target.dispatchEvent('drop', { dataTransfer });
}
