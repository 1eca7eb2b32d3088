// Guest RAM that a vhost-user back-end can map, without a KVM VM: a V8-allocated
// SharedArrayBuffer re-mapped onto a memfd (as core/kvm/guest-ram.ts does for real VMs),
// and the SET_MEM_TABLE region list for it. Used by tests and tools that play the guest;
// a running Machine passes its GuestRam's memfd and hva to frontendRegions() instead.
import { nativeKvm } from '../kvm/addon.js';
import { GuestMemory } from '../memory/guest-memory.js';
import type { MemoryLayout } from '../memory/layout.js';
import type { FrontendRegion } from './frontend.js';
import { PAGE_SIZE } from './native.js';

export interface SharedGuestMemory {
  memory: GuestMemory;
  memfd: number;
  /** Address of RAM offset 0 in this process. */
  hva: bigint;
}

export function createSharedGuestMemory(layout: MemoryLayout): SharedGuestMemory {
  const n = nativeKvm();
  const sab = new SharedArrayBuffer(layout.ramSize + PAGE_SIZE);
  const base = n.addressOf(new Uint8Array(sab, 0, 1));
  const pad = Number((BigInt(PAGE_SIZE) - (base % BigInt(PAGE_SIZE))) % BigInt(PAGE_SIZE));
  const memory = new GuestMemory(sab, pad, layout);
  const memfd = n.memfdCreate('guest-ram', layout.ramSize);
  n.mapSharedOver(memory.bytes, memfd);
  return { memory, memfd, hva: base + BigInt(pad) };
}

/** The memory table for RAM laid out by `layout`, backed by `memfd` at region.offset. */
export function frontendRegions(layout: MemoryLayout, memfd: number, hva: bigint): FrontendRegion[] {
  return layout.regions.map((r) => ({ guestAddr: r.gpa, size: r.size, userAddr: hva + BigInt(r.offset), fd: memfd, fdOffset: r.offset }));
}
