// HYPERVISOR_console_io(cmd, count, buffer): CONSOLEIO_write goes to the VM's log, as a
// debug Xen prints a domU's writes (public/xen.h; Xen drivers/char/console.c). Host thread.
// One call copies at most MAX_CONSOLE_WRITE bytes (the rest is dropped and counted as
// written, like Xen's rate limit); CONSOLEIO_read is privileged.
import { ENOSYS, EPERM } from '../errno.js';
import { HYPERVISOR_console_io } from '../abi.js';
import type { HypercallHandler } from '../dispatcher.js';
import type { XenDomain } from './domain.js';
import { argNum } from './util.js';

export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;
export const MAX_CONSOLE_WRITE = 4096;

export function consoleIoHandler(dom: XenDomain): HypercallHandler {
  return {
    nr: HYPERVISOR_console_io,
    handle(call, guest) {
      const cmd = argNum(call.args[0]);
      if (cmd === CONSOLEIO_read) return -EPERM;
      if (cmd !== CONSOLEIO_write) return -ENOSYS;
      const count = Number(BigInt.asUintN(32, call.args[1]!));
      const b = guest.read(call.args[2]!, Math.min(count, MAX_CONSOLE_WRITE));
      if (typeof b === 'number') return b;
      dom.console(call.vcpuId, b);
      return 0;
    },
  };
}
