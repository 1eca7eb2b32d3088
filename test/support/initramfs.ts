// A Linux initramfs built in Node: a small writer for the "newc" cpio format (the one the
// kernel unpacks, see Documentation/driver-api/early-userspace/buffer-format.rst), and a
// helper that packs a static busybox, kernel modules and an /init shell script into one.
// Device nodes are written into the archive itself, so building needs no root.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev' | 'blockdev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Serialize entries as a newc cpio archive (parents must come before their children). */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0], nlink = 1): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const header =
      '070701' +
      [ino++, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0].map(hex8).join('');
    parts.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    if (!path || path.includes('\0')) throw new Error(`cpio: bad path ${JSON.stringify(e.path)}`);
    switch (e.kind) {
      case 'dir':
        add(path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), [0, 0], 2);
        break;
      case 'file':
        add(path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        add(path, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'));
        break;
      case 'chardev':
      case 'blockdev':
        add(path, (e.kind === 'chardev' ? S_IFCHR : S_IFBLK) | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor]);
        break;
    }
  }
  ino = 0;
  add('TRAILER!!!', 0, new Uint8Array(0), [0, 0], 1);
  return Buffer.concat(parts);
}

export interface BusyboxInitramfsOptions {
  /** A statically linked busybox (Debian: busybox-static's /usr/bin/busybox). */
  busybox: string;
  /** Kernel module files, put in /lib/modules/ under their own names (uncompressed .ko). */
  modules?: string[];
  /** The /init script body; runs under `/bin/busybox sh` with busybox's applets on PATH. */
  init: string;
}

/**
 * An initramfs whose /init is a busybox shell script: /bin/busybox, /bin/sh, the modules
 * in /lib/modules, and /dev/console + /dev/null nodes so that init has a console before
 * it mounts devtmpfs. The script should end by powering off (`poweroff -f`).
 */
export function busyboxInitramfs(opts: BusyboxInitramfsOptions): Buffer {
  const entries: CpioEntry[] = [
    ...['bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'lib', 'lib/modules'].map((p): CpioEntry => ({ kind: 'dir', path: p })),
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { kind: 'file', path: 'bin/busybox', data: readFileSync(opts.busybox), mode: 0o755 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
  ];
  for (const m of opts.modules ?? []) entries.push({ kind: 'file', path: `lib/modules/${basename(m)}`, data: readFileSync(m) });
  const init = `#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin:/sbin\n${opts.init}`;
  entries.push({ kind: 'file', path: 'init', data: Buffer.from(init, 'utf8'), mode: 0o755 });
  return cpioNewc(entries);
}
