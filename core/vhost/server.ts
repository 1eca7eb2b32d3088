// Listening side of a vhost-user back-end process: binds an AF_UNIX socket at a path and
// serves one front-end at a time (vhost-user connections are exclusive). While a
// front-end is connected, further connections are accepted and closed at once. When the
// front-end goes away the device state is dropped and the next connection starts fresh,
// which is how a VMM restarts a device without restarting the process.
import { lstatSync, unlinkSync } from 'node:fs';
import { VmmError } from '../errors.js';
import { VhostUserBackend, type VhostUserDevice } from './backend.js';
import { safeClose } from './channel.js';
import { nativeUnix } from './native.js';

export class VhostServerError extends VmmError {}

export interface ServerOptions {
  log?: (msg: string) => void;
  /** Called when a front-end connection ends (reason undefined for a clean close). */
  onDisconnect?: (reason: Error | undefined) => void;
}

export class VhostUserServer {
  private readonly n = nativeUnix();
  private readonly fd: number;
  private readonly watch: number;
  private active: VhostUserBackend | undefined;
  private closed = false;
  private readonly log: (m: string) => void;

  constructor(
    readonly path: string,
    private readonly device: VhostUserDevice,
    private readonly opts: ServerOptions = {},
  ) {
    this.log = opts.log ?? ((m) => process.stderr.write(`${device.name}: ${m}\n`));
    removeStaleSocket(path);
    this.fd = this.n.unixSocket();
    try {
      this.n.unixBind(this.fd, path);
      this.n.unixListen(this.fd, 4);
      this.n.unixSetNonBlocking(this.fd, true);
    } catch (cause) {
      safeClose(this.n, this.fd);
      throw new VhostServerError(`cannot listen on ${path}`, { cause });
    }
    this.watch = this.n.unixWatchReadable(this.fd, () => this.acceptAll(), true);
  }

  get connected(): boolean {
    return this.active !== undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.n.unixUnwatch(this.watch);
    safeClose(this.n, this.fd);
    this.active?.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private acceptAll(): void {
    for (;;) {
      let c: number;
      try {
        c = this.n.unixAccept(this.fd);
      } catch (e) {
        this.log(`accept: ${(e as Error).message}`);
        return;
      }
      if (c < 0) return;
      if (this.active) {
        this.log('refusing a second front-end connection');
        safeClose(this.n, c);
        continue;
      }
      const backend: VhostUserBackend = new VhostUserBackend(c, this.device, (reason) => {
        if (this.active === backend) this.active = undefined;
        if (reason) this.log(`front-end connection closed: ${reason.message}`);
        this.opts.onDisconnect?.(reason);
      }, this.log);
      this.active = backend;
    }
  }
}

/** Remove a leftover socket file (never anything else) so bind can succeed. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // does not exist
  }
}
