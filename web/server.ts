// Browser mode's HTTP server (Node, no Electron): serves the built renderer on 127.0.0.1
// and carries the app service's API over the WebSocket bridge at /api. The random token
// in the printed URL is the only key; the page keeps it and presents it when it connects.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { contentSecurityPolicy } from '../main/csp.js';
import { Bridge, type BridgeService } from './bridge.js';
import { serveStatic } from './static.js';

export interface WebServerOptions {
  service: BridgeService;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  log?: (m: string) => void;
}

export interface WebServer {
  /** The page's URL with its token, to print once. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  readonly bridge: Bridge;
  close(): Promise<void>;
}

export const HOST = '127.0.0.1';

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const token = opts.token ?? randomBytes(32).toString('base64url');
  let port = 0;
  const origins = () => [`http://${HOST}:${port}`, `http://localhost:${port}`];
  const bridge = new Bridge(opts.service, token, origins, opts.log);
  const csp = contentSecurityPolicy();
  const server: Server = createServer((req, res) => {
    serveStatic(opts.rendererDir, csp, req, res).catch((e: unknown) => {
      opts.log?.(`cannot serve ${req.url}: ${(e as Error).message}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => bridge.upgrade(req, socket, head));
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${HOST}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    bridge,
    close: () =>
      new Promise<void>((resolve) => {
        bridge.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
