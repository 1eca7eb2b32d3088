// Errors raised while recognising and loading kernel images. Image files are hostile input,
// so every malformed field ends in one of these classes (never a RangeError from a typed
// array), and the message names the field and, when it is the user's to fix, what to do.
import { VmmError } from '../errors.js';

/** The image claims to be a known format but a header, offset or size in it is wrong. */
export class ImageFormatError extends VmmError {
  constructor(
    readonly format: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${format}: ${message}`, options);
  }
}

export class ElfFormatError extends ImageFormatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ELF', message, options);
  }
}

export class MultibootFormatError extends ImageFormatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('multiboot', message, options);
  }
}

export class BzImageFormatError extends ImageFormatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('bzImage', message, options);
  }
}

export class PvhFormatError extends ImageFormatError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PVH', message, options);
  }
}

/** The file is recognised (or not) but cannot be booted the requested way. */
export class UnsupportedImageError extends VmmError {
  constructor(
    /** What detectImage saw, e.g. "gzip-compressed data". */
    readonly detected: string,
    message: string,
  ) {
    super(message);
  }
}

/** The image is well-formed but it, its modules or the boot structures do not fit in guest RAM. */
export class BootLayoutError extends VmmError {}

/** Something the user passed alongside the image (command line, modules) is unacceptable. */
export class BootInputError extends VmmError {}
