// `npm test`: builds what the tests need (lab guests, compiled core and CLI, the renderer for
// browser mode), runs every vitest project (unit, integration, e2e), and ends with one summary line: "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

if (!existsSync(join(root, 'build', 'Release', 'kvm.node'))) {
  console.error('test: the native KVM addon is not built; run `npm install` first');
  process.exit(1);
}
if (
  run('make', ['-s', '-C', 'guests']) !== 0 ||
  run('npx', ['tsc', '-p', 'tsconfig.node.json']) !== 0 ||
  run('npx', ['electron-vite', 'build', '--logLevel', 'warn']) !== 0
) {
  console.error('test: build failed');
  process.exit(1);
}

mkdirSync(join(root, 'test-results'), { recursive: true });
const report = join(root, 'test-results', 'vitest.json');
const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)]);

let summary = 'no test report was written';
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  summary = `${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`;
} catch {
  // keep the fallback line; vitest's exit status decides
}
console.log(summary);
process.exit(status);
