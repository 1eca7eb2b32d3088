// The renderer's handle on the preload API. Opened outside Electron (a plain browser, a
// missing preload) there is no `window.vmm`; say so instead of failing on undefined.
import type { VmmApi } from '../../core/api/contract.js';

export function vmm(): VmmApi {
  const api = (window as Partial<Window>).vmm;
  if (!api) throw new Error('The VMM API is not available: start irqbench with `npm start` (Electron), not in a plain browser.');
  return api;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
