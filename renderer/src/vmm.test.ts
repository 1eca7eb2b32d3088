import { describe, expect, it, vi } from 'vitest';
import type { VmmApi } from '../../core/api/contract.js';
import { resolveApi, type ApiHost } from './vmm.js';

const opened: { url: string; token: string }[] = [];
vi.mock('../../core/api/ws-client.js', () => ({
  createWebTransport: (url: string, token: string) => {
    opened.push({ url, token });
    return { mode: 'web', invoke: async () => ({ ok: true, value: null }), subscribe: () => () => {} };
  },
}));

function host(href: string, stored: Record<string, string> = {}): ApiHost & { replaced: string[]; store: Map<string, string> } {
  const store = new Map(Object.entries(stored));
  const replaced: string[] = [];
  const url = new URL(href);
  return {
    location: { host: url.host, href },
    history: { replaceState: (_s: unknown, _t: string, u?: string | URL | null) => void replaced.push(String(u)) },
    sessionStorage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) },
    replaced,
    store,
  };
}

describe('resolveApi', () => {
  it('uses the preload API in Electron', () => {
    const api = { mode: 'electron' } as VmmApi;
    expect(resolveApi({ ...host('file:///index.html'), vmm: api })).toEqual({ ok: true, api });
  });

  it('takes the token from the URL, strips it and keeps it for reloads', () => {
    opened.length = 0;
    const h = host('http://127.0.0.1:8123/?token=s3cret#x');
    const r = resolveApi(h);
    expect(r.ok).toBe(true);
    expect(opened).toEqual([{ url: 'ws://127.0.0.1:8123/api', token: 's3cret' }]);
    expect(h.replaced).toEqual(['/#x']);
    expect(h.store.get('irqbench.token')).toBe('s3cret');
    expect(resolveApi(host('http://127.0.0.1:8123/', { 'irqbench.token': 's3cret' })).ok).toBe(true);
    expect(opened).toHaveLength(2);
  });

  it('explains what to open when there is no token', () => {
    const r = resolveApi(host('http://127.0.0.1:8123/'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/npm run web/);
  });
});
