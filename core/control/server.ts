// Control socket of one VM (`vmm run --control PATH`): lets scripts and other processes read
// statistics (`vmm stats`), stream them, snapshot the interrupt controllers (`vmm irq-state`)
// and pause/resume/stop the VM. Each connection is
// independent; a client that sends garbage gets error replies, one that floods a line longer
// than MAX_LINE is disconnected. The socket file is removed when the server closes.
import { createServer, type Server, type Socket } from 'node:net';
import { unlinkSync, existsSync, lstatSync } from 'node:fs';
import { VmmError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import { sampleMachine } from '../stats/machine-stats.js';
import { StatsStream } from '../stats/stream.js';
import { interruptState } from '../stats/irq-state.js';
import { MAX_LINE, RequestSchema, type ControlReply, type ControlRequest } from './protocol.js';

export class ControlSocketError extends VmmError {}

export class ControlServer {
  private readonly server: Server;
  private readonly streams = new Set<StatsStream>();

  private constructor(
    private readonly machine: Machine,
    readonly path: string,
  ) {
    this.server = createServer((sock) => this.serve(sock));
  }

  static async listen(machine: Machine, path: string): Promise<ControlServer> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new ControlSocketError(`control path ${path} exists and is not a socket; choose another path`);
      unlinkSync(path); // a stale socket from a VM that did not clean up
    }
    const s = new ControlServer(machine, path);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', (cause) => reject(new ControlSocketError(`cannot listen on ${path}: ${(cause as Error).message}`, { cause })));
      s.server.listen(path, resolve);
    });
    s.server.unref();
    return s;
  }

  private serve(sock: Socket): void {
    let buf = '';
    const reply = (r: ControlReply): void => void (sock.writable && sock.write(`${JSON.stringify(r)}\n`));
    sock.setEncoding('utf8');
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        reply({ ok: false, error: `request line longer than ${MAX_LINE} bytes` });
        sock.destroy();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) this.handle(line, sock, reply);
      }
    });
  }

  private handle(line: string, sock: Socket, reply: (r: ControlReply) => void): void {
    let req: ControlRequest;
    try {
      const parsed = RequestSchema.safeParse(JSON.parse(line));
      if (!parsed.success) return reply({ ok: false, error: `bad request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}` });
      req = parsed.data;
    } catch {
      return reply({ ok: false, error: 'bad request: not JSON' });
    }
    const id = req.id;
    const m = this.machine;
    switch (req.cmd) {
      case 'stats':
        return reply({ id, ok: true, value: sampleMachine(m) });
      case 'state':
        return reply({ id, ok: true, value: { name: m.config.name, state: m.state } });
      case 'pause':
        m.pause();
        return reply({ id, ok: true, value: { state: m.state } });
      case 'resume':
        m.resume();
        return reply({ id, ok: true, value: { state: m.state } });
      case 'irq-state':
        // Pauses a running VM briefly (vCPU ioctls need the vCPUs out of KVM_RUN) and resumes it.
        void interruptState(m).then(
          (value) => reply({ id, ok: true, value }),
          (e: Error) => reply({ id, ok: false, error: e.message }),
        );
        return;
      case 'stop':
        reply({ id, ok: true, value: { state: 'stopping' } });
        void m.stop();
        return;
      case 'stream': {
        const stream = new StatsStream(() => sampleMachine(m), (msg) => reply({ id, ok: true, value: msg }), req.hz);
        this.streams.add(stream);
        sock.once('close', () => {
          stream.stop();
          this.streams.delete(stream);
        });
        stream.start();
        return;
      }
    }
  }

  close(): void {
    this.streams.forEach((s) => s.stop());
    this.server.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
