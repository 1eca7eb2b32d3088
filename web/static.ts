// Static files of the built renderer (out/renderer) for browser mode. Only files inside the
// root are served (resolved path checked after decoding, symlinks resolved), every response
// carries the strict CSP, and unknown paths fall back to index.html (the app is one page).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.map': 'application/json',
};

export function securityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
  };
}

/** The file under `root` a request path names, or undefined when it would leave the root. */
export async function resolveStatic(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = await realpath(root);
  const wanted = resolve(base, `.${decoded.startsWith('/') ? decoded : `/${decoded}`}`);
  if (wanted !== base && !wanted.startsWith(base + sep)) return undefined;
  try {
    const real = await realpath(wanted);
    if (real !== base && !real.startsWith(base + sep)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

export async function serveStatic(root: string, csp: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = securityHeaders(csp);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  let file = path === '/' ? join(root, 'index.html') : await resolveStatic(root, path);
  // A path with no extension is a client-side route; anything else that is missing is a 404.
  if (!file && extname(path) === '') file = join(root, 'index.html');
  if (!file) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  const type = TYPES[extname(file)] ?? 'application/octet-stream';
  const cache = file.endsWith('index.html') ? 'no-store' : 'no-cache';
  const stream = createReadStream(file);
  stream.on('error', () => {
    if (!res.headersSent) res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
    else res.destroy();
  });
  stream.once('open', () => {
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Cache-Control': cache });
    if (req.method === 'HEAD') {
      stream.destroy();
      res.end();
    } else stream.pipe(res);
  });
}
