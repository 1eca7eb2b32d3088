// Guest images dropped on the window: recognise them by their magic bytes (core/boot/detect)
// and say what they can become — a kernel to boot, a disk to attach, or nothing, with what
// to do instead. Browser mode sends the bytes; they are stored under <profiles>/images/
// with a unique, safe name, written atomically (temp file + rename).
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import type { ImageSource, ImportedImage } from '../api/contract.js';
import { MAX_UPLOAD_BYTES } from '../api/contract.js';
import { detectImage, type ImageInfo } from '../boot/detect.js';
import { ImageError } from './errors.js';

/** Enough for every magic detect looks for (ISO 9660's is at 0x8001, multiboot2 within 32 KiB). */
const HEAD_BYTES = 1024 * 1024;
/** ELF kernels are parsed whole (program headers and notes may be anywhere); up to this size. */
const ELF_READ_MAX = 256 * 1024 * 1024;
const NAME_MAX = 100;

export const QCOW2_HINT = 'qcow2 is not supported yet: convert it with `qemu-img convert -O raw in.qcow2 out.img` and drop the .img';
const DISK_HINT = 'irqbench boots kernels directly and has no disk firmware: attach it as a disk to a VM that boots a kernel';
const ISO_HINT = 'an ISO is attached read-only; irqbench cannot boot from it, so attach it to a VM that boots a kernel';

/** A file name that is safe on any filesystem we write to: no separators, no leading dot. */
export function safeFileName(name: string): string {
  const base = basename(name.replaceAll('\\', '/'))
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}._+-]+/gu, '_')
    .replace(/^[._]+/, '');
  const clipped = base.length > NAME_MAX ? base.slice(base.length - NAME_MAX) : base;
  return clipped || 'image';
}

/** What an image can be used for, from detect's verdict. */
export function classify(info: ImageInfo): Pick<ImportedImage, 'use' | 'hint'> {
  if (info.protocols.length > 0) return { use: 'kernel', ...(info.hint && { hint: info.hint }) };
  switch (info.format) {
    case 'qcow2':
      return { use: 'none', hint: QCOW2_HINT };
    case 'mbr-disk':
    case 'gpt-disk':
      return { use: 'disk', hint: DISK_HINT };
    case 'iso9660':
      return { use: 'disk', hint: ISO_HINT };
    default:
      return { use: 'none', hint: info.hint ?? `${info.description} cannot be used` };
  }
}

function describe(path: string, name: string, size: number, info: ImageInfo): ImportedImage {
  return { path, name, size, format: info.format, description: info.description, protocols: [...info.protocols], ...classify(info) };
}

/** Recognise an image file on this host. */
export async function inspectImage(path: string): Promise<ImportedImage> {
  if (!isAbsolute(path)) throw new ImageError(`image path must be absolute, got ${path}`);
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new ImageError(`${path} is not a regular file; drop an image file`);
    size = st.size;
  } catch (cause) {
    if (cause instanceof ImageError) throw cause;
    throw new ImageError(`cannot read ${path} (${(cause as NodeJS.ErrnoException).code ?? cause}); check that the file exists and is readable`, { cause });
  }
  let bytes = await readHead(path, Math.min(size, HEAD_BYTES));
  if (bytes[0] === 0x7f && bytes[1] === 0x45 && size > bytes.length && size <= ELF_READ_MAX) bytes = await readHead(path, size);
  return describe(path, basename(path), size, detectImage(bytes));
}

/** Store bytes sent by the browser under `imagesDir` and recognise them. */
export async function storeImage(imagesDir: string, name: string, data: Uint8Array): Promise<ImportedImage> {
  if (data.byteLength > MAX_UPLOAD_BYTES) {
    throw new ImageError(`the image is larger than ${MAX_UPLOAD_BYTES / (1024 * 1024)} MiB; use the desktop app, or put it in ${imagesDir} yourself`);
  }
  const info = detectImage(data);
  await mkdir(imagesDir, { recursive: true });
  const safe = safeFileName(name);
  const dot = safe.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ''];
  const tmp = join(imagesDir, `.upload-${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // link() never replaces an existing file, so two uploads of one name both survive.
    for (let i = 1; i < 1000; i++) {
      const file = join(imagesDir, i === 1 ? safe : `${stem}-${i}${ext}`);
      try {
        await link(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      return describe(file, basename(file), data.byteLength, info);
    }
    throw new ImageError(`too many images named ${safe} in ${imagesDir}; rename the file`);
  } catch (cause) {
    if (cause instanceof ImageError) throw cause;
    throw new ImageError(`cannot store the image in ${imagesDir} (${(cause as NodeJS.ErrnoException).code ?? cause}); check the profiles folder in Settings`, { cause });
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

export function importImage(source: ImageSource, imagesDir: string): Promise<ImportedImage> {
  return source.kind === 'path' ? inspectImage(source.path) : storeImage(imagesDir, source.name, source.data);
}

async function readHead(path: string, length: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const { bytesRead } = await fh.read(buf, at, length - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}

