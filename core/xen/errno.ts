// Xen errno values (xen/include/public/errno.h; identical to Linux x86 for these).
// Constants are positive; hypercall handlers return their negatives (e.g. `-EINVAL`),
// and 0 for success. Shared by every module under core/xen.
// Source: shared/docs/xen-hvm-interfaces.md §5 "Errno values".

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const ENXIO = 6;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOSYS = 38;
export const ETIME = 62;
export const EOPNOTSUPP = 95;

/** A hypercall result: 0 (or a non-negative value) on success, a negative errno on failure. */
export type XenResult = number;

const NAMES: Record<number, string> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [ENXIO]: 'ENXIO',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [EINVAL]: 'EINVAL',
  [ENOSPC]: 'ENOSPC',
  [ENOSYS]: 'ENOSYS',
  [ETIME]: 'ETIME',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
};

/** Name of a result for statistics: 'ok' for >= 0, 'EINVAL' for -22, 'E<n>' for unknown. */
export function errnoName(result: number): string {
  if (result >= 0) return 'ok';
  return NAMES[-result] ?? `E${-result}`;
}
