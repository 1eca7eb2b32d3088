// Window hardening and IPC trust, separated from app wiring so tests can drive them with
// stand-ins for Electron objects. The renderer is a single page: it never navigates, opens
// windows or embeds webviews, and only its own top frame may call the VMM API.
import type { BrowserWindow, IpcMainInvokeEvent, Session, WebContents } from 'electron';
import { contentSecurityPolicy } from './csp.js';

/** True if `url` is the renderer page itself (hash and query ignored). */
export function sameDocument(url: string, appUrl: string): boolean {
  try {
    const a = new URL(url);
    const b = new URL(appUrl);
    return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
  } catch {
    return false;
  }
}

/** Only our window's top frame, showing our page, may send requests. */
export function isTrustedSender(event: IpcMainInvokeEvent, win: BrowserWindow | null, appUrl: string): boolean {
  if (!win || win.isDestroyed()) return false;
  if (event.sender !== win.webContents) return false;
  const frame = event.senderFrame;
  if (!frame || frame !== win.webContents.mainFrame) return false;
  return sameDocument(frame.url, appUrl);
}

/** Block navigation away from the app page, new windows and webviews for one webContents. */
export function hardenWebContents(contents: WebContents, appUrl: () => string): void {
  // Programmatic loads (loadFile/loadURL) do not raise these events; page-initiated ones do.
  const guard = (event: { url: string; preventDefault(): void }) => {
    if (!sameDocument(event.url, appUrl())) event.preventDefault();
  };
  contents.on('will-navigate', guard);
  contents.on('will-frame-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Deny every permission and add the CSP header to every response of the session. */
export function hardenSession(ses: Session, dev: boolean): void {
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  const csp = contentSecurityPolicy({ dev });
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [csp] } });
  });
}
