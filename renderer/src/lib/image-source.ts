// What to send the service for a dropped file: its path when Electron can tell it (the
// service reads the file in place), otherwise the bytes (browser mode), within the
// contract's upload limit so the page never reads a huge file into memory for nothing.
import { MAX_UPLOAD_BYTES, type ImageSource } from '../../../core/api/contract.js';
import { VmmError } from '../../../core/errors.js';

export class ImageTooLargeError extends VmmError {}

export async function imageSourceFor(file: File, path: string | undefined): Promise<ImageSource> {
  if (path) return { kind: 'path', path };
  if (file.size > MAX_UPLOAD_BYTES) {
    throw new ImageTooLargeError(
      `${file.name} is ${formatBytes(file.size)}; browser mode uploads at most ${formatBytes(MAX_UPLOAD_BYTES)}. ` +
        'Use the desktop app (npm start), which opens the file in place, or reference the image by path in a profile.',
    );
  }
  return { kind: 'bytes', name: file.name, data: new Uint8Array(await file.arrayBuffer()) };
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
