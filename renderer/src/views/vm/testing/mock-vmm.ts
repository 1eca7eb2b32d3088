// Stand-in for renderer/src/vmm.ts in unit tests (`vi.mock('<path>/vmm.js', () => import(this))`):
// the real module also builds the browser-mode WebSocket transport, which tests don't need.
import type { VmmApi } from '../../../../../core/api/contract.js';

let current: VmmApi | null = null;

export function setApi(api: VmmApi | null): void {
  current = api;
}

export function vmm(): VmmApi {
  if (!current) throw new Error('The VMM API is not connected yet.');
  return current;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
