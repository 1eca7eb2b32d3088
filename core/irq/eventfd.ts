// Eventfd operations the interrupt groups use, behind an interface so unit tests can run
// the groups against a simulated kernel. The native implementation creates non-blocking
// eventfds; read() drains the counter and returns it (0 when nothing was signalled).
import { EFD_NONBLOCK, nativeKvm } from '../kvm/addon.js';

export interface EventFdOps {
  create(): number;
  /** Drain the counter; 0 if it was zero. */
  read(fd: number): number;
  write(fd: number, count?: number): void;
  close(fd: number): void;
}

const COUNTER_BYTES = 8;

export function nativeEventFds(): EventFdOps {
  const n = nativeKvm();
  const rbuf = new BigUint64Array(1);
  const wbuf = new BigUint64Array(1);
  return {
    create: () => n.eventfd(0, EFD_NONBLOCK),
    read(fd) {
      return n.read(fd, rbuf) === COUNTER_BYTES ? Number(rbuf[0]) : 0;
    },
    write(fd, count = 1) {
      wbuf[0] = BigInt(count);
      n.write(fd, wbuf);
    },
    close: (fd) => n.close(fd),
  };
}
