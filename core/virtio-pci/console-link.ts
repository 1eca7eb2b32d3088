// The host side of a virtio-console device process: the VMM connects to the process's port
// socket, turns what the guest writes into VM log lines ("console: ...") and output
// listeners, and sends host input the other way (it reaches the guest's receiveq).
import { createConnection, type Socket } from 'node:net';
import { VmmError } from '../errors.js';

export class ConsoleLinkError extends VmmError {}

const CONNECT_TIMEOUT_MS = 10_000;
const RETRY_MS = 50;
/** A line longer than this is logged in pieces. */
const MAX_LINE = 4096;

export class ConsoleHostLink {
  private sock: Socket | undefined;
  private partial = '';
  private listeners: ((bytes: Uint8Array) => void)[] = [];
  readonly stats = { outputBytes: 0, inputBytes: 0, connects: 0 };

  constructor(
    readonly path: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Connect (retrying while the process sets up its socket). */
  async connect(): Promise<void> {
    this.close();
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (;;) {
      try {
        this.sock = await open(this.path);
        break;
      } catch (e) {
        if (Date.now() >= deadline) throw new ConsoleLinkError(`cannot connect to the console port ${this.path}`, { cause: e });
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
    this.stats.connects++;
    const s = this.sock;
    s.on('data', (d: Buffer) => this.output(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.sock === s) this.sock = undefined;
      this.flush();
    });
  }

  /** Everything the guest writes to the console, as it arrives. */
  onOutput(cb: (bytes: Uint8Array) => void): void {
    this.listeners.push(cb);
  }

  /** Host input for the guest; false when the port is not connected. */
  send(bytes: Uint8Array): boolean {
    if (!this.sock) return false;
    this.stats.inputBytes += bytes.length;
    this.sock.write(bytes);
    return true;
  }

  close(): void {
    this.sock?.destroy();
    this.sock = undefined;
    this.flush();
  }

  private output(bytes: Uint8Array): void {
    this.stats.outputBytes += bytes.length;
    for (const cb of this.listeners) cb(bytes);
    this.partial += Buffer.from(bytes).toString('latin1');
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      this.log(`console: ${this.partial.slice(0, nl).replace(/\r$/, '')}`);
      this.partial = this.partial.slice(nl + 1);
    }
    while (this.partial.length > MAX_LINE) {
      this.log(`console: ${this.partial.slice(0, MAX_LINE)}`);
      this.partial = this.partial.slice(MAX_LINE);
    }
  }

  private flush(): void {
    if (this.partial) this.log(`console: ${this.partial}`);
    this.partial = '';
  }
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
