// MSI message decoding for the routing table: the core's decoder (Intel SDM §11.11) turned
// into the short cells the table shows. Routes carry the raw message; the MSI-X view gets
// its entries already decoded by the service.
import { decodeMsi } from '../../../core/pci/msi-decode.js';

export interface MsiCells {
  /** "APIC 2 phys", "APIC 0x3 logical", or why the message is not an interrupt. */
  destination: string;
  /** "vec 0x31 Fixed edge". */
  delivery: string;
  vector: number | null;
  dest: number | null;
}

/** Xen's PIRQ-in-MSI encoding: vector 0 with the PIRQ in the destination fields. */
const XEN_PIRQ_VECTOR = 0;

export function msiCells(addressLo: number, addressHi: number, data: number): MsiCells {
  const d = decodeMsi({ addressLo, addressHi, data });
  if (!d.interruptWindow) return { destination: 'not an interrupt (memory write)', delivery: '', vector: null, dest: null };
  if (d.remappable) return { destination: 'remappable format', delivery: `handle in address bits`, vector: null, dest: null };
  const trig = d.trigger === 'level' ? `level ${d.level}` : 'edge';
  const pirqHint = d.vector === XEN_PIRQ_VECTOR ? ' (Xen PIRQ encoding?)' : '';
  return {
    destination: `APIC ${d.destinationId} ${d.destinationMode === 'logical' ? 'logical' : 'phys'}${d.redirectionHint ? ' RH' : ''}`,
    delivery: `vec 0x${d.vector.toString(16).padStart(2, '0')} ${d.deliveryModeName} ${trig}${pirqHint}`,
    vector: d.vector,
    dest: d.destinationId,
  };
}
