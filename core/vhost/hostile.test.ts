// Both ends of vhost-user against a hostile peer over a real socketpair: malformed
// messages close the connection with a VhostProtocolError; nothing throws out of the
// event loop, and a silent back-end makes the frontend time out and report a disconnect.
import { describe, expect, it } from 'vitest';
import { nativeUnix, EAGAIN } from './native.js';
import { VhostUserBackend, type VhostUserDevice } from './backend.js';
import { VhostChannel, type VhostMessage } from './channel.js';
import { VhostUserFrontend, VhostTimeoutError } from './frontend.js';
import * as P from './protocol.js';

const n = nativeUnix();

const device: VhostUserDevice = {
  name: 'fake',
  numQueues: 1,
  features: () => P.bit(32),
  config: () => new Uint8Array(16).fill(0xab),
  processQueue: () => undefined,
};

/** A backend on one end of a socketpair; returns the raw peer fd and the close reason. */
function backendPair(): { peer: number; closed: Promise<Error | undefined> } {
  const [a, b] = n.unixSocketPair();
  let done!: (e: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((r) => (done = r));
  new VhostUserBackend(a, device, done, () => undefined);
  return { peer: b, closed };
}

function send(fd: number, bytes: Uint8Array, fds: number[] = []): void {
  expect(n.unixSendMsg(fd, bytes, fds)).toBe(bytes.length);
}

/** Read one reply from the raw peer (blocking socket: the backend answers promptly). */
function readReply(fd: number): { header: P.Header; payload: Uint8Array } {
  const h = new Uint8Array(12);
  expect(n.unixRecvMsg(fd, h).bytes).toBe(12);
  const header = P.decodeHeader(h);
  const payload = new Uint8Array(header.size);
  if (header.size > 0) expect(n.unixRecvMsg(fd, payload).bytes).toBe(header.size);
  return { header, payload };
}

async function expectClosedWith(p: { peer: number; closed: Promise<Error | undefined> }, re: RegExp): Promise<void> {
  const reason = await p.closed;
  expect(reason).toBeInstanceOf(P.VhostProtocolError);
  expect(reason!.message).toMatch(re);
  n.unixSetNonBlocking(p.peer, true);
  let r = n.unixRecvMsg(p.peer, new Uint8Array(64));
  while (r.bytes > 0) r = n.unixRecvMsg(p.peer, new Uint8Array(64));
  expect(r.bytes).toBe(0); // EOF: the backend closed its end
  n.close(p.peer);
}

describe('back-end against a hostile front-end', () => {
  it('answers a well-formed GET_FEATURES and GET_CONFIG', async () => {
    const p = backendPair();
    send(p.peer, P.encodeMessage(P.Req.GET_FEATURES, 0));
    await new Promise((r) => setTimeout(r, 20));
    const f = readReply(p.peer);
    expect(f.header.flags & P.VHOST_USER_FLAG_REPLY).toBeTruthy();
    expect(P.decodeU64(f.payload)).toBe(P.bit(32) | P.bit(P.VHOST_USER_F_PROTOCOL_FEATURES));
    send(p.peer, P.encodeMessage(P.Req.SET_PROTOCOL_FEATURES, 0, P.encodeU64(P.bit(P.ProtocolFeature.CONFIG))));
    send(p.peer, P.encodeMessage(P.Req.GET_CONFIG, 0, P.encodeConfig({ offset: 8, data: new Uint8Array(16) })));
    await new Promise((r) => setTimeout(r, 20));
    const c = P.decodeConfig(readReply(p.peer).payload, 'reply');
    expect([...c.data]).toEqual([...new Uint8Array(8).fill(0xab), ...new Uint8Array(8)]);
    n.close(p.peer);
    expect(await p.closed).toBeInstanceOf(Error); // peer EOF is reported
  });

  const cases: [string, () => Uint8Array, RegExp, number?][] = [
    ['a bad version', () => { const m = P.encodeMessage(1, 0); m[4] = 2; return m; }, /version/],
    ['an oversized payload', () => P.encodeHeader({ request: 1, flags: 1, size: 1 << 20 }), /exceeds/],
    ['an unknown request', () => P.encodeMessage(200, 0), /unsupported request 200/],
    ['a short SET_FEATURES', () => P.encodeMessage(P.Req.SET_FEATURES, 0, new Uint8Array(4)), /want 8/],
    ['features it did not offer', () => P.encodeMessage(P.Req.SET_FEATURES, 0, P.encodeU64(1n << 40n)), /did not offer/],
    ['a vring index out of range', () => P.encodeMessage(P.Req.SET_VRING_NUM, 0, P.encodeVringState({ index: 7, num: 64 })), /does not exist/],
    ['a queue size that is not a power of two', () => P.encodeMessage(P.Req.SET_VRING_NUM, 0, P.encodeVringState({ index: 0, num: 100 })), /bad size/],
    ['a 17-bit vring base', () => P.encodeMessage(P.Req.SET_VRING_BASE, 0, P.encodeVringState({ index: 0, num: 0x10000 })), /16-bit/],
    ['a kick message without its fd', () => P.encodeMessage(P.Req.SET_VRING_KICK, 0, P.encodeVringFd(0, false)), /0 fds/],
    ['an unsolicited reply', () => P.encodeMessage(P.Req.GET_FEATURES, P.VHOST_USER_FLAG_REPLY), /unsolicited/],
    ['GET_CONFIG before CONFIG was negotiated', () => P.encodeMessage(P.Req.GET_CONFIG, 0, P.encodeConfig({ offset: 0, data: new Uint8Array(4) })), /not negotiated/],
    ['a memory table without fds', () => P.encodeMessage(P.Req.SET_MEM_TABLE, 0, P.encodeMemTable([{ guestAddr: 0n, size: 4096n, userAddr: 0n, mmapOffset: 0n }])), /1 regions but 0 fds/],
  ];
  for (const [what, msg, re] of cases) {
    it(`closes the connection on ${what}`, async () => {
      const p = backendPair();
      send(p.peer, msg());
      await expectClosedWith(p, re);
    });
  }

  it('refuses a memory region larger than its fd', async () => {
    const p = backendPair();
    const memfd = n.memfdCreate('small', 4096);
    send(p.peer, P.encodeMessage(P.Req.SET_MEM_TABLE, 0, P.encodeMemTable([{ guestAddr: 0n, size: 0x100000n, userAddr: 0n, mmapOffset: 0n }])), [memfd]);
    n.close(memfd);
    await expectClosedWith(p, /past the end of its fd/);
  });

  it('refuses fds on a message that takes none, and ring addresses outside memory', async () => {
    const p = backendPair();
    const efd = n.eventfd(0, 0);
    send(p.peer, P.encodeMessage(P.Req.SET_OWNER, 0), [efd]);
    await expectClosedWith(p, /unexpected fds/);
    const q = backendPair();
    const memfd = n.memfdCreate('ram', 0x10000);
    send(q.peer, P.encodeMessage(P.Req.SET_MEM_TABLE, 0, P.encodeMemTable([{ guestAddr: 0n, size: 0x10000n, userAddr: 0x1000_0000n, mmapOffset: 0n }])), [memfd]);
    send(q.peer, P.encodeMessage(P.Req.SET_VRING_NUM, 0, P.encodeVringState({ index: 0, num: 64 })));
    send(q.peer, P.encodeMessage(P.Req.SET_VRING_ADDR, 0, P.encodeVringAddr({ index: 0, flags: 0, desc: 0x2000_0000n, avail: 0x1000_0400n, used: 0x1000_1000n, log: 0n })));
    send(q.peer, P.encodeMessage(P.Req.SET_VRING_KICK, 0, P.encodeVringFd(0, false)), [efd]);
    await expectClosedWith(q, /outside the memory table/);
    n.close(memfd);
    n.close(efd);
  });

  it('survives a header split across writes and a peer that disappears mid-message', async () => {
    const p = backendPair();
    const m = P.encodeMessage(P.Req.SET_FEATURES, 0, P.encodeU64(0n));
    send(p.peer, m.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 10));
    send(p.peer, m.subarray(5, 15));
    n.close(p.peer);
    const reason = await p.closed;
    expect(reason?.message).toMatch(/mid-message/);
  });
});

describe('front-end against a hostile back-end', () => {
  /** A frontend connected to a raw peer that answers with `respond`. */
  async function frontendPair(respond: (m: VhostMessage, ch: VhostChannel) => void, timeoutMs = 200) {
    const dir = await import('node:fs').then((fs) => fs.mkdtempSync('/tmp/vhost-fe-'));
    const path = `${dir}/s`;
    const lfd = n.unixSocket();
    n.unixBind(lfd, path);
    n.unixListen(lfd, 1);
    const fe = await VhostUserFrontend.connect(path, { replyTimeoutMs: timeoutMs });
    const c = n.unixAccept(lfd);
    expect(c).not.toBe(-EAGAIN);
    n.close(lfd);
    const ch: VhostChannel = new VhostChannel(c, { onMessage: (m) => respond(m, ch), onClose: () => undefined });
    return { fe, ch };
  }

  it('times out a missing reply and reports the disconnect', async () => {
    const { fe, ch } = await frontendPair(() => undefined);
    const events: Error[] = [];
    fe.onDisconnect((e) => events.push(e));
    await expect(fe.getFeatures()).rejects.toBeInstanceOf(VhostTimeoutError);
    expect(fe.state).toBe('failed');
    expect(events).toHaveLength(1);
    await expect(fe.getQueueNum()).rejects.toThrow(/no reply/);
    ch.close();
  });

  it('fails on a reply to the wrong request, a short reply and a non-zero ack', async () => {
    const wrong = await frontendPair((m, ch) => ch.send(P.Req.GET_QUEUE_NUM, P.VHOST_USER_FLAG_REPLY, P.encodeU64(1)));
    await expect(wrong.fe.getFeatures()).rejects.toThrow(/wrong request/);
    expect(wrong.fe.state).toBe('failed');
    wrong.ch.close();
    const short = await frontendPair((m, ch) => ch.send(m.request, P.VHOST_USER_FLAG_REPLY, new Uint8Array(3)));
    await expect(short.fe.getFeatures()).rejects.toThrow(/want 8/);
    short.ch.close();
    const nak = await frontendPair((m, ch) => {
      if (m.request === P.Req.GET_FEATURES) ch.send(m.request, P.VHOST_USER_FLAG_REPLY, P.encodeU64(P.bit(30)));
      else if (m.request === P.Req.GET_PROTOCOL_FEATURES) ch.send(m.request, P.VHOST_USER_FLAG_REPLY, P.encodeU64(P.bit(P.ProtocolFeature.REPLY_ACK)));
      else if (m.flags & P.VHOST_USER_FLAG_NEED_REPLY) ch.send(m.request, P.VHOST_USER_FLAG_REPLY, P.encodeU64(m.request === P.Req.SET_FEATURES ? 0 : 1));
    });
    await nak.fe.negotiate(P.bit(32));
    await expect(nak.fe.setVringNum(0, 64)).rejects.toThrow(/refused SET_VRING_NUM/);
    expect(nak.fe.state).toBe('connected');
    nak.fe.close();
    nak.ch.close();
  });

  it('fails on an unsolicited message from the back-end', async () => {
    const { fe, ch } = await frontendPair(() => undefined);
    const gone = new Promise<Error>((r) => fe.onDisconnect(r));
    ch.send(P.Req.SET_OWNER, 0);
    expect((await gone).message).toMatch(/unexpected request SET_OWNER/);
    ch.close();
  });
});
