// The irq-lab device process on its own (no VM): started the way the VMM starts it, fed
// garbled or hostile messages over its socket, and stopped with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { nativeUnix } from '../../core/vhost/native.js';
import { safeClose } from '../../core/vhost/channel.js';
import { encodeMessage } from '../../core/vhost/protocol.js';
import { irqLabCommand, CHILD_SOCKET_FD } from '../../core/irq-lab/device-link.js';
import { Op, PROTOCOL_VERSION, encodeCommand, type Command } from '../../core/irq-lab/protocol.js';
import { packageRoot } from '../../core/paths.js';

const n = nativeUnix();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function start(): { child: ChildProcess; fd: number; exit: Promise<{ code: number | null; stderr: string }> } {
  const [mine, theirs] = n.unixSocketPair();
  const { command, args, env } = irqLabCommand();
  const child = spawn(command, [...args, '--fd', String(CHILD_SOCKET_FD)], { stdio: ['ignore', 'ignore', 'pipe', theirs], cwd: packageRoot(), env });
  safeClose(n, theirs);
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exit = new Promise<{ code: number | null; stderr: string }>((r) => child.on('exit', (code) => r({ code, stderr })));
  return { child, fd: mine, exit };
}

const send = (fd: number, c: Command) => {
  const e = encodeCommand(c);
  n.unixSendMsg(fd, encodeMessage(e.request, 0, e.payload), e.fds);
};

describe('irq-lab device process', () => {
  it('closes the connection with a clear error on a garbled header', async () => {
    const p = start();
    const junk = new Uint8Array(12);
    new DataView(junk.buffer).setUint32(4, 0x7, true); // protocol version 3, unknown flag bits
    n.unixSendMsg(p.fd, junk, []);
    const e = await p.exit;
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/irq-lab: closing the connection: .*version/);
    safeClose(n, p.fd);
  });

  it('refuses a raise beyond its vectors and commands before SETUP', async () => {
    const p = start();
    send(p.fd, { op: 'setup', version: PROTOCOL_VERSION, msixVectors: 4, msiVectors: 0, intx: false });
    send(p.fd, { op: 'fire', kind: 0, vector: 9 });
    const e = await p.exit;
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/fire: vector 9 beyond the 4 MSI-X vectors/);
    safeClose(n, p.fd);
    const q = start();
    n.unixSendMsg(q.fd, encodeMessage(Op.ACK, 0, new Uint8Array(4)), []);
    expect((await q.exit).stderr).toMatch(/ack before SETUP/);
    safeClose(n, q.fd);
  });

  it('exits 0 on SIGTERM', async () => {
    const p = start();
    send(p.fd, { op: 'setup', version: PROTOCOL_VERSION, msixVectors: 1, msiVectors: 0, intx: false });
    send(p.fd, { op: 'ready' });
    n.unixSetNonBlocking(p.fd, true);
    const buf = new Uint8Array(64);
    const end = Date.now() + 20_000;
    while (n.unixRecvMsg(p.fd, buf).bytes <= 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20)); // READY_ACK
    p.child.kill('SIGTERM');
    expect((await p.exit).code).toBe(0);
    safeClose(n, p.fd);
  });
});
