// `window.vmm`, as the preload exposes it (preload/index.ts). For the renderer's types.
import type { VmmApi } from '../core/api/contract.js';

declare global {
  interface Window {
    vmm: VmmApi;
  }
}

export {};
