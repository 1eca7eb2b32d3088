// Smoothness check of the live views under a 100k interrupts/s, 2048-vector stats stream:
// builds bench/index.html with Vite (renderer/src/vmm.ts swapped for the test stand-in),
// serves it on 127.0.0.1, opens it in Chromium (playwright-core) and records a trace.
// Prints one JSON line: main-thread tasks over 50 ms (wall clock and thread CPU time) from
// the trace, and requestAnimationFrame intervals measured in the page.
//   node renderer/src/views/vm/bench/run.mjs [dashboard|devices|idle] [seconds]
import vue from '@vitejs/plugin-vue';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { build } from 'vite';

const here = dirname(new URL(import.meta.url).pathname);
const view = process.argv[2] ?? 'dashboard';
const seconds = Number(process.argv[3] ?? 20);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const WARMUP_MS = 3000;
const FRAME_BUDGET_MS = 50;

const out = await mkdtemp(join(tmpdir(), 'irqbench-ui-bench-'));
const mock = resolve(here, '../testing/mock-vmm.ts');
await build({
  root: here,
  logLevel: 'warn',
  plugins: [
    vue(),
    {
      name: 'bench-vmm-stand-in',
      enforce: 'pre',
      resolveId(src, importer) {
        if (importer && src.endsWith('/vmm.js') && resolve(dirname(importer), src).endsWith('renderer/src/vmm.js')) return mock;
        return null;
      },
    },
  ],
  build: { outDir: out, emptyOutDir: true },
});

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  try {
    const body = await readFile(join(out, path === '/' ? 'index.html' : path));
    res.writeHead(200, { 'content-type': types[extname(path)] ?? (path === '/' ? 'text/html' : 'application/octet-stream') });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
}).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`http://127.0.0.1:${server.address().port}/?view=${view}`);
  await page.waitForTimeout(WARMUP_MS);
  const start = await page.evaluate(() => window.benchFrames());
  await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] });
  await page.waitForTimeout(seconds * 1000);
  const trace = JSON.parse((await browser.stopTracing()).toString());
  const end = await page.evaluate(() => window.benchFrames());

  const events = trace.traceEvents ?? trace;
  const main = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const tasks = events.filter((e) => e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask' && main.has(`${e.pid}:${e.tid}`));
  const wall = tasks.map((e) => e.dur / 1000).sort((a, b) => a - b);
  const cpu = tasks.map((e) => (e.tdur ?? e.dur) / 1000).sort((a, b) => a - b);
  const frames = end.frames.slice(start.frames.length).sort((a, b) => a - b);
  const q = (a, p) => +(a[Math.min(a.length - 1, Math.floor(p * a.length))] ?? 0).toFixed(1);
  console.log(JSON.stringify({
    view, seconds, loadavg: +loadavg()[0].toFixed(1),
    tasks: tasks.length, taskWallMaxMs: q(wall, 1), taskCpuMaxMs: q(cpu, 1), taskCpuP99Ms: q(cpu, 0.99),
    tasksOver50Wall: wall.filter((d) => d > FRAME_BUDGET_MS).length, tasksOver50Cpu: cpu.filter((d) => d > FRAME_BUDGET_MS).length,
    frames: frames.length, frameP50Ms: q(frames, 0.5), frameP99Ms: q(frames, 0.99), frameMaxMs: q(frames, 1),
    framesOver50: frames.filter((d) => d > FRAME_BUDGET_MS).length,
    longTasksOver50: end.longTasks.filter((l) => l.start >= start.now && l.duration > FRAME_BUDGET_MS).length,
  }));
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
} finally {
  await browser.close();
  server.close();
  await rm(out, { recursive: true, force: true });
}
