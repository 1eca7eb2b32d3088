// Build of the Electron app: main (plus the VM host utility-process entry), the sandboxed
// preload (CommonJS: sandboxed preloads cannot be ES modules) and the Vue renderer.
// Output: out/main, out/preload, out/renderer. The VM host loads the machine itself from
// out/node (`npm run build:node`), the same compiled core the CLI runs.
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'electron-vite';
import type { Plugin } from 'vite';
import { contentSecurityPolicy } from './main/csp.js';

const root = import.meta.dirname;
const at = (p: string) => resolve(root, p);

/** Add the CSP <meta> right after <meta charset>, before anything the page loads. */
function cspMeta(): Plugin {
  return {
    name: 'irqbench-csp-meta',
    transformIndexHtml: {
      order: 'pre',
      handler(html, ctx) {
        const policy = contentSecurityPolicy({ dev: !!ctx.server, meta: true });
        const tag = `<meta http-equiv="Content-Security-Policy" content="${policy}" />`;
        const out = html.replace(/<meta charset[^>]*>/i, (charset) => `${charset}\n    ${tag}`);
        if (out === html) throw new Error('renderer/index.html needs a <meta charset> for the CSP to follow');
        return out;
      },
    },
  };
}

export default defineConfig({
  main: {
    build: {
      outDir: at('out/main'),
      rollupOptions: {
        input: { index: at('main/index.ts'), 'vm-host': at('main/vm-host.ts') },
      },
    },
  },
  preload: {
    build: {
      outDir: at('out/preload'),
      rollupOptions: {
        input: { index: at('preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: at('renderer'),
    plugins: [vue(), cspMeta()],
    build: {
      outDir: at('out/renderer'),
      rollupOptions: { input: at('renderer/index.html') },
    },
  },
});
