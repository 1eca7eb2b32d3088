// Control socket of one VM (`vmm run --control PATH`): lets scripts and other processes read
// statistics (`vmm stats`), stream them, snapshot the interrupt controllers (`vmm irq-state`),
// read and act on MSI-X tables, GSI routes and Xen ports (`vmm msix|routes|ports|pirqs|mask|
// unmask|fire`), save and restore a Xen VM's interrupt state (`vmm save-irq-state|
// restore-irq-state`) and pause/resume/stop the VM. Every command is a MachineController call
// (commands.ts); this file is only transport. Each connection is
// independent; a client that sends garbage gets error replies, one that floods a line longer
// than MAX_LINE is disconnected. The socket file is removed when the server closes.
import { createServer, type Server, type Socket } from 'node:net';
import { unlinkSync, existsSync, lstatSync } from 'node:fs';
import { VmmError } from '../errors.js';
import type { Machine } from '../machine/machine.js';
import { StatsStream } from '../stats/stream.js';
import { MachineController } from './commands.js';
import { MAX_LINE, RequestSchema, type ControlReply, type ControlRequest } from './protocol.js';

export class ControlSocketError extends VmmError {}

export class ControlServer {
  private readonly server: Server;
  private readonly streams = new Set<StatsStream>();
  private constructor(
    /** The controller every command runs on (one per machine may be shared with other front ends). */
    readonly controller: MachineController,
    readonly path: string,
  ) {
    this.server = createServer((sock) => this.serve(sock));
  }

  static async listen(machine: Machine, path: string, controller = new MachineController(machine)): Promise<ControlServer> {
    if (existsSync(path)) {
      if (!lstatSync(path).isSocket()) throw new ControlSocketError(`control path ${path} exists and is not a socket; choose another path`);
      unlinkSync(path); // a stale socket from a VM that did not clean up
    }
    const s = new ControlServer(controller, path);
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
      // Only a chunk with a newline ends a line: a multi-MiB snapshot arrives in many chunks
      // and must not be searched again for each.
      if (chunk.includes('\n')) {
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0 && nl <= MAX_LINE) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) this.handle(line, sock, reply);
        }
      }
      if (buf.length > MAX_LINE) {
        reply({ ok: false, error: `request line longer than ${MAX_LINE} bytes` });
        sock.destroy();
        buf = '';
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
    if (req.cmd === 'stream') return this.stream(req.hz, sock, (value) => reply({ id, ok: true, value }));
    // Sync or async, a controller error becomes an error reply; nothing a client sends can
    // throw out of the socket handler.
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.run(req));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (value) => reply({ id, ok: true, value }),
      (e: Error) => reply({ id, ok: false, error: e.message, name: e.name }),
    );
  }

  /** One request on the controller (`stream` is handled by the caller). */
  private run(req: Exclude<ControlRequest, { cmd: 'stream' }>): unknown {
    const c = this.controller;
    switch (req.cmd) {
      case 'stats': return c.stats();
      case 'state': return c.state();
      case 'pause': return c.pause();
      case 'resume': return c.resume();
      case 'stop': return c.stop();
      // Pauses a running VM briefly (vCPU ioctls need the vCPUs out of KVM_RUN) and resumes it.
      case 'irq-state': return c.irqState();
      case 'pci-devices': return c.pciDevices();
      case 'msix-table': return c.msixTable(req.device, req.first, req.count);
      case 'set-vector-mask': return c.setVectorMask(req.device, req.vector, req.masked);
      case 'fire-vector': return c.fireVector(req.device, req.vector, req.count);
      case 'routing-table': return c.routingTable();
      case 'xen-ports': return c.xenPorts();
      case 'xen-pirqs': return c.xenPirqs();
      case 'xen-send': return c.xenSend(req.port);
      case 'xen-bind-vcpu': return c.xenBindVcpu(req.port, req.vcpu);
      case 'xen-set-port-mask': return c.xenSetPortMask(req.port, req.masked);
      case 'console': return c.sendConsole(req.data);
      // Pauses a running VM for the save and resumes it; restore needs a paused VM.
      case 'save-irq-state': return c.saveInterruptState();
      case 'restore-irq-state': return c.restoreInterruptState(req.snapshot);
    }
  }

  private stream(hz: number, sock: Socket, send: (msg: unknown) => void): void {
    const stream = new StatsStream(() => this.controller.stats(), send, hz);
    this.streams.add(stream);
    sock.once('close', () => {
      stream.stop();
      this.streams.delete(stream);
    });
    stream.start();
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
