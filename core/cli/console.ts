// Connects the terminal to the guest's serial port. On a TTY the terminal goes raw so every
// key reaches the guest; Ctrl-A x quits (as in QEMU's -nographic). Without a TTY, stdin is
// piped to the guest as is, and SIGINT/SIGTERM stop the VM.
import type { Machine } from '../machine/machine.js';

const CTRL_A = 0x01;

export function attachConsole(machine: Machine, quit: () => void): () => void {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let escape = false;
  const onData = (chunk: Buffer): void => {
    if (!tty) return machine.sendConsole(chunk);
    const out: number[] = [];
    for (const b of chunk) {
      if (escape) {
        escape = false;
        if (b === 0x78 /* x */) return quit();
        if (b !== CTRL_A) out.push(CTRL_A);
      } else if (b === CTRL_A) {
        escape = true;
        continue;
      }
      out.push(b);
    }
    if (out.length) machine.sendConsole(Uint8Array.from(out));
  };
  const onSignal = (): void => quit();
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
