#!/usr/bin/env node
// `vmm` command: runs the compiled CLI (npm install builds it into out/node).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../out/node/core/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('vmm: the VMM is not built; run `npm install` (or `npm run build:node`) in the project folder\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exit(await main(process.argv.slice(2)));
