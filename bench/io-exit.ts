// I/O-exit round trips per second: the TypeScript VMM (handler on the vCPU thread, and
// handler in a device model on the host thread) against a C KVM_RUN loop running the same
// guest code, measured alternately in the same run so machine noise hits both alike.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { rawRealModeVm } from '../test/support/raw-vm.js';
import { packageRoot } from '../core/paths.js';

// out 0x80, al; jmp $-2   -> POST port, answered on the vCPU thread
const LOCAL_CODE = Uint8Array.from([0xe6, 0x80, 0xeb, 0xfc]);
// mov dx, 0x510; out dx, al; jmp $-1  -> a device model on the host thread
const HOST_CODE = Uint8Array.from([0xba, 0x10, 0x05, 0xee, 0xeb, 0xfd]);

export interface Rate {
  exits: number;
  seconds: number;
  perSecond: number;
}

function buildCLoop(): string {
  const out = join(packageRoot(), 'build', 'bench');
  mkdirSync(out, { recursive: true });
  const bin = join(out, 'io_loop');
  execFileSync('gcc', ['-O2', '-o', bin, join(packageRoot(), 'bench', 'c', 'io_loop.c')]);
  return bin;
}

function runC(bin: string, seconds: number): Rate {
  const r = JSON.parse(execFileSync(bin, [String(seconds)], { encoding: 'utf8' })) as { exits: number; seconds: number };
  return { exits: r.exits, seconds: r.seconds, perSecond: r.exits / r.seconds };
}

async function runTs(code: Uint8Array, seconds: number): Promise<Rate> {
  const vm = rawRealModeVm(code);
  let writes = 0;
  vm.pio.register(0x510, 1, { name: 'null', read: () => 0, write: () => void writes++ });
  await vm.start();
  const t0 = process.hrtime.bigint();
  const e0 = vm.host.exitCount();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const e1 = vm.host.exitCount();
  const t1 = process.hrtime.bigint();
  await vm.dispose();
  const secs = Number(t1 - t0) / 1e9;
  return { exits: e1 - e0, seconds: secs, perSecond: (e1 - e0) / secs };
}

export async function ioExitBench(seconds = 2, rounds = 3): Promise<{ c: Rate; local: Rate; host: Rate }> {
  const bin = buildCLoop();
  const best = (rs: Rate[]): Rate => rs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const c: Rate[] = [];
  const local: Rate[] = [];
  const host: Rate[] = [];
  for (let i = 0; i < rounds; i++) {
    c.push(runC(bin, seconds));
    local.push(await runTs(LOCAL_CODE, seconds));
    host.push(await runTs(HOST_CODE, seconds));
  }
  return { c: best(c), local: best(local), host: best(host) };
}
