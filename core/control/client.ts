// Client side of the control socket, for `vmm stats` and tests: one request, one reply.
import { connect } from 'node:net';
import { VmmError } from '../errors.js';
import type { ControlReply } from './protocol.js';

export class ControlClientError extends VmmError {}

export function controlRequest(path: string, request: object, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    const fail = (msg: string, cause?: unknown): void => {
      sock.destroy();
      reject(new ControlClientError(msg, { cause }));
    };
    const timer = setTimeout(() => fail(`no reply from ${path} within ${timeoutMs} ms`), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(request)}\n`));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `no VM is listening on ${path}; start one with \`vmm run --control ${path} ...\`` : `cannot reach ${path}: ${e.message}`, e);
    });
    sock.on('data', (d: string) => {
      buf += d;
      // A reply may be MiBs (an interrupt-state snapshot): search only the new chunk.
      if (!d.includes('\n')) return;
      const nl = buf.indexOf('\n');
      clearTimeout(timer);
      sock.end();
      let r: ControlReply;
      try {
        r = JSON.parse(buf.slice(0, nl)) as ControlReply;
      } catch (cause) {
        return reject(new ControlClientError(`${path} answered with something that is not JSON; is it a vmm control socket?`, { cause }));
      }
      if (r.ok) resolve(r.value);
      else reject(new ControlClientError(r.error));
    });
  });
}
