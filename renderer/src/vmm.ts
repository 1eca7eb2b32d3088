// The renderer's handle on the VMM API. In Electron the preload exposes `window.vmm`; in
// browser mode (`npm run web`) the page builds the same VmmApi over a WebSocket, with the
// token that `npm run web` printed in the page URL. The token leaves the address bar at once
// (history.replaceState) and lives in sessionStorage, so a reload keeps working but the
// token does not linger in history or in a copied link.
import { createVmmApi, VmmRequestError } from '../../core/api/client.js';
import type { FieldIssue, VmmApi } from '../../core/api/contract.js';
import { createWebTransport } from '../../core/api/ws-client.js';

const TOKEN_KEY = 'irqbench.token';

export type ApiResolution = { ok: true; api: VmmApi } | { ok: false; reason: string };

/** The subset of `window` this module reads; tests pass a fake. */
export interface ApiHost {
  vmm?: VmmApi;
  location: { host: string; href: string };
  history: Pick<History, 'replaceState'>;
  sessionStorage: Pick<Storage, 'getItem' | 'setItem'>;
}

/** Find or build the API for this page; `reason` says what the user should do otherwise. */
export function resolveApi(host: ApiHost = window as unknown as ApiHost): ApiResolution {
  if (host.vmm) return { ok: true, api: host.vmm };
  const token = takeToken(host);
  if (!token) {
    return {
      ok: false,
      reason:
        'This page needs the access token of the irqbench service. Open the full URL that `npm run web` printed ' +
        '(it ends in ?token=…), or start the desktop app with `npm start`.',
    };
  }
  return { ok: true, api: createVmmApi(createWebTransport(`ws://${host.location.host}/api`, token)) };
}

function takeToken(host: ApiHost): string | null {
  const url = new URL(host.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    host.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    host.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return host.sessionStorage.getItem(TOKEN_KEY);
}

let current: VmmApi | null = null;

/** Install the API the stores use (main.ts at startup, tests with a fake). */
export function setApi(api: VmmApi | null): void {
  current = api;
}

export function vmm(): VmmApi {
  if (!current) throw new Error('The VMM API is not connected yet.');
  return current;
}

/** The host path of a dropped file when Electron can tell it; browsers cannot. */
export function pathForFile(api: VmmApi, file: File): string | undefined {
  return api.pathForFile?.(file) || undefined;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Field issues the service attached to a refused request (a profile that failed validation). */
export function issuesOf(e: unknown): FieldIssue[] {
  return e instanceof VmmRequestError ? e.issues : [];
}
