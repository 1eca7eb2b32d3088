// Loads the native syscall layer (core/kvm/native/kvm_addon.c) and gives it a type.
// Every function throws an Error carrying `errno` on failure, except vcpuRun/read/write,
// which return -EINTR/-EAGAIN as numbers because those are normal outcomes on hot paths.
import { createRequire } from 'node:module';
import { addonPath } from '../paths.js';
import { VmmError } from '../errors.js';

type Bytes = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

export interface NativeKvm {
  open(path: string, flags: number): number;
  close(fd: number): void;
  ioctl(fd: number, request: number, arg?: number | bigint | Bytes): number;
  addressOf(view: Bytes): bigint;
  eventfd(initval: number, flags: number): number;
  memfdCreate(name: string, size: number): number;
  mapSharedOver(view: Bytes, fd: number): void;
  read(fd: number, buf: Bytes): number;
  write(fd: number, buf: Bytes): number;
  pread(fd: number, buf: Bytes, offset: number): number;
  gettid(): number;
  vcpuMapRun(vcpuFd: number, mmapSize: number): number;
  vcpuUnmapRun(handle: number): void;
  vcpuRun(handle: number, shadow: Uint8Array): number;
  vcpuKick(handle: number, tid: number): void;
  unblockKick(): number;
  /** KVM_CAP_SYNC_REGS: KVM stores regs+sregs in kvm_run at each exit (copied to the shadow at SHADOW_SYNC). Absent in addons built before it. */
  vcpuSyncRegs?(handle: number, on: boolean): void;
  readonly SHADOW_SIZE: number;
  readonly SHADOW_IO_DATA: number;
  /** Shadow offsets of the synced struct kvm_regs / kvm_sregs, and of the flags byte (bit 0: regs dirty). */
  readonly SHADOW_SYNC?: number;
  readonly SHADOW_SYNC_SREGS?: number;
  readonly SHADOW_FLAGS?: number;
}

export class AddonLoadError extends VmmError {}

/** An errno-carrying error from the addon. */
export interface ErrnoError extends Error {
  errno: number;
}

export function isErrno(e: unknown, errno?: number): e is ErrnoError {
  return e instanceof Error && typeof (e as Partial<ErrnoError>).errno === 'number' && (errno === undefined || (e as ErrnoError).errno === errno);
}

let native: NativeKvm | undefined;

export function nativeKvm(): NativeKvm {
  if (native) return native;
  const path = addonPath();
  try {
    native = createRequire(import.meta.url)(path) as NativeKvm;
  } catch (cause) {
    throw new AddonLoadError(`cannot load the KVM addon at ${path}; run \`npm install\` (it builds the addon with node-gyp)`, { cause });
  }
  return native;
}

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const EFD_NONBLOCK = 0o4000;
export const EINTR = 4;
export const EAGAIN = 11;
