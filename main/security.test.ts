import { EventEmitter } from 'node:events';
import type { BrowserWindow, IpcMainInvokeEvent, Session, WebContents } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import { hardenSession, hardenWebContents, isTrustedSender, sameDocument } from './security.js';

const APP = 'file:///opt/irqbench/out/renderer/index.html';

function fakeWindow(url = APP) {
  const mainFrame = { url };
  const webContents = { mainFrame };
  let destroyed = false;
  const win = { webContents, isDestroyed: () => destroyed, destroy: () => (destroyed = true) };
  return { win, mainFrame, webContents, asWindow: win as unknown as BrowserWindow };
}

const event = (sender: unknown, senderFrame: unknown) => ({ sender, senderFrame }) as unknown as IpcMainInvokeEvent;

describe('isTrustedSender', () => {
  it('accepts the top frame of our window showing our page', () => {
    const w = fakeWindow(`${APP}#/vm/1`);
    expect(isTrustedSender(event(w.webContents, w.mainFrame), w.asWindow, APP)).toBe(true);
  });

  it('rejects other webContents, subframes, missing frames, foreign pages and no window', () => {
    const w = fakeWindow();
    const other = fakeWindow();
    expect(isTrustedSender(event(other.webContents, other.mainFrame), w.asWindow, APP)).toBe(false);
    expect(isTrustedSender(event(w.webContents, { url: APP }), w.asWindow, APP)).toBe(false);
    expect(isTrustedSender(event(w.webContents, null), w.asWindow, APP)).toBe(false);
    expect(isTrustedSender(event(w.webContents, w.mainFrame), null, APP)).toBe(false);
    const navigated = fakeWindow('https://evil.example/index.html');
    expect(isTrustedSender(event(navigated.webContents, navigated.mainFrame), navigated.asWindow, APP)).toBe(false);
    w.win.destroy();
    expect(isTrustedSender(event(w.webContents, w.mainFrame), w.asWindow, APP)).toBe(false);
  });
});

describe('sameDocument', () => {
  it('compares scheme, host and path only', () => {
    expect(sameDocument(`${APP}?x=1#y`, APP)).toBe(true);
    expect(sameDocument('file:///opt/irqbench/out/renderer/other.html', APP)).toBe(false);
    expect(sameDocument('http://localhost:5173/', 'http://localhost:5173/')).toBe(true);
    expect(sameDocument('http://localhost:5174/', 'http://localhost:5173/')).toBe(false);
    expect(sameDocument('not a url', APP)).toBe(false);
  });
});

function fakeContents() {
  const emitter = new EventEmitter();
  let openHandler: ((d: { url: string }) => { action: string }) | undefined;
  const contents = Object.assign(emitter, {
    setWindowOpenHandler: (h: typeof openHandler) => (openHandler = h),
  });
  hardenWebContents(contents as unknown as WebContents, () => APP);
  const navigate = (name: string, url: string) => {
    const ev = { url, preventDefault: vi.fn() };
    emitter.emit(name, ev, url);
    return ev.preventDefault.mock.calls.length > 0;
  };
  return { emitter, navigate, open: (url: string) => openHandler!({ url }) };
}

describe('hardenWebContents', () => {
  it.each(['will-navigate', 'will-frame-navigate', 'will-redirect'])('blocks %s away from the app', (name) => {
    const c = fakeContents();
    expect(c.navigate(name, 'https://example.com/')).toBe(true);
    expect(c.navigate(name, 'file:///etc/passwd')).toBe(true);
    expect(c.navigate(name, `${APP}#/settings`)).toBe(false);
  });

  it('denies new windows and webviews', () => {
    const c = fakeContents();
    expect(c.open('https://example.com/')).toEqual({ action: 'deny' });
    const ev = { preventDefault: vi.fn() };
    c.emitter.emit('will-attach-webview', ev, {}, {});
    expect(ev.preventDefault).toHaveBeenCalled();
  });
});

describe('hardenSession', () => {
  it('denies permissions and adds the CSP header', () => {
    let request: ((...a: unknown[]) => void) | undefined;
    let check: (() => boolean) | undefined;
    let headers: ((d: unknown, cb: (r: unknown) => void) => void) | undefined;
    const ses = {
      setPermissionRequestHandler: (h: typeof request) => (request = h),
      setPermissionCheckHandler: (h: typeof check) => (check = h),
      webRequest: { onHeadersReceived: (h: typeof headers) => (headers = h) },
    };
    hardenSession(ses as unknown as Session, false);
    const granted = vi.fn();
    request!({}, 'media', granted);
    expect(granted).toHaveBeenCalledWith(false);
    expect(check!()).toBe(false);
    const reply = vi.fn();
    headers!({ responseHeaders: { 'X-A': ['1'] } }, reply);
    const out = reply.mock.calls[0]![0] as { responseHeaders: Record<string, string[]> };
    expect(out.responseHeaders['X-A']).toEqual(['1']);
    expect(out.responseHeaders['Content-Security-Policy']![0]).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    expect(out.responseHeaders['Content-Security-Policy']![0]).not.toContain('unsafe');
  });
});
