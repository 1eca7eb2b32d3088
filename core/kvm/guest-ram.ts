// Allocates guest RAM the only way Electron's V8 memory cage allows: a SharedArrayBuffer
// created in JS. The page-aligned part of it is re-mapped onto a memfd (so device processes
// can map the same pages later) and registered with KVM, one memory slot per RAM region.
// The SharedArrayBuffer must stay referenced for the life of the VM; GuestRam holds it.
import { nativeKvm } from './addon.js';
import { GuestMemory } from '../memory/guest-memory.js';
import type { MemoryLayout } from '../memory/layout.js';
import type { Vm } from './vm.js';

const PAGE = 4096;

export interface GuestRam {
  memory: GuestMemory;
  /** memfd backing all of RAM (offset = region.offset), shareable with device processes. */
  memfd: number;
  /** Host virtual address of RAM offset 0. */
  hva: bigint;
}

export function allocateGuestRam(vm: Vm, layout: MemoryLayout): GuestRam {
  const n = nativeKvm();
  const sab = new SharedArrayBuffer(layout.ramSize + PAGE);
  const base = n.addressOf(new Uint8Array(sab));
  const pad = Number((BigInt(PAGE) - (base % BigInt(PAGE))) % BigInt(PAGE));
  const memory = new GuestMemory(sab, pad, layout);
  const memfd = n.memfdCreate('guest-ram', layout.ramSize);
  n.mapSharedOver(memory.bytes, memfd);
  const hva = base + BigInt(pad);
  layout.regions.forEach((r, slot) => vm.setUserMemoryRegion(slot, r.gpa, r.size, hva + BigInt(r.offset)));
  return { memory, memfd, hva };
}
