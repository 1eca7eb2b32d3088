// Types for the unix-socket part of the native addon (core/kvm/native/unix_socket.c):
// AF_UNIX stream sockets with SCM_RIGHTS fd passing, an epoll-thread readiness watcher
// that calls back on the JS thread, and mmap of a file range over V8-allocated memory.
// The functions live in the same addon as the KVM layer; this module only casts it.
import { nativeKvm, type NativeKvm } from '../kvm/addon.js';

export interface RecvResult {
  /** Bytes received; 0 at EOF, -EAGAIN when nothing is ready. */
  bytes: number;
  /** fds that arrived with these bytes (close-on-exec); the caller owns them. */
  fds: number[];
  /** The peer sent more fds than fit (they were closed). */
  truncated: boolean;
}

export interface NativeUnix {
  unixSocket(): number;
  unixSocketPair(): [number, number];
  unixBind(fd: number, path: string): void;
  unixListen(fd: number, backlog: number): void;
  /** New connection (non-blocking, close-on-exec) or -EAGAIN. */
  unixAccept(fd: number): number;
  unixConnect(fd: number, path: string): void;
  unixSetNonBlocking(fd: number, on: boolean): void;
  unixShutdown(fd: number): void;
  /** Bytes sent or -EAGAIN; EPIPE (peer gone) throws. At most 16 fds. */
  unixSendMsg(fd: number, data: Uint8Array, fds: number[]): number;
  unixRecvMsg(fd: number, into: Uint8Array): RecvResult;
  /**
   * Calls `cb(epollEvents)` on this thread when fd is readable (or hung up). The callback
   * must drain the fd; the watch is re-armed after it returns. keepAlive=false does not
   * hold the event loop open.
   */
  unixWatchReadable(fd: number, cb: (events: number) => void, keepAlive: boolean): number;
  unixUnwatch(handle: number): void;
  /** MAP_SHARED|MAP_FIXED of fd at `offset` over the (page-aligned) bytes of `view`. */
  mapSharedOverAt(view: Uint8Array, fd: number, offset: number): void;
  /** Put private zeroed pages back under `view`. */
  mapAnonymousOver(view: Uint8Array): void;
}

export type Native = NativeKvm & NativeUnix;

export function nativeUnix(): Native {
  return nativeKvm() as Native;
}

export const EAGAIN = 11;
export const EPOLLIN = 0x001;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
export const PAGE_SIZE = 4096;
