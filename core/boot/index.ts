// Entry point of the boot loaders: detect what the kernel image is, pick the protocol (or check
// the one the user asked for against the image), and run that loader. 'auto' prefers PVH,
// then multiboot, then the Linux bzImage protocol.
import type { BootKind } from '../machine/config.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { loadBzImage } from './bzimage.js';
import { detectImage, unsupportedImage, type BootProtocol, type ImageInfo } from './detect.js';
import { loadMultiboot } from './multiboot.js';
import { loadPvh } from './pvh.js';
import type { BootInput, BootState } from './types.js';

export { detectImage, type ImageInfo, type BootProtocol, type ImageFormat } from './detect.js';
export * from './errors.js';
export type { BootInput, BootModule, BootState, CpuMode } from './types.js';

const LOADERS: Record<BootProtocol, (memory: GuestMemory, input: BootInput) => BootState> = {
  pvh: loadPvh,
  multiboot: loadMultiboot,
  bzimage: loadBzImage,
};

/** The protocol `kind` resolves to for this image, or the error explaining why none does. */
export function chooseProtocol(info: ImageInfo, kind: BootKind): BootProtocol {
  if (kind === 'auto') {
    const p = info.protocols[0];
    if (p) return p;
    throw info.error ?? unsupportedImage(info, kind);
  }
  if (info.protocols.includes(kind)) return kind;
  // A malformed ELF asked for as PVH: its parse error says more than "not PVH".
  if (info.error && kind === 'pvh') throw info.error;
  throw unsupportedImage(info, kind);
}

export function loadKernel(memory: GuestMemory, input: BootInput, kind: BootKind): BootState {
  const info = detectImage(input.kernel);
  return LOADERS[chooseProtocol(info, kind)](memory, input);
}
