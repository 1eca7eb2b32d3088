// VIRQ numbers and binding classes (public/xen.h; xen-hvm-interfaces.md §5). Per-vCPU VIRQs
// (V) get one port per vCPU and cannot be moved with bind_vcpu; global (G) and
// domain (D) VIRQs bind on vCPU0 and may be rebound. Pure data.
import { NR_VIRQS } from './port-table.js';

export const VIRQ_TIMER = 0;
export const VIRQ_DEBUG = 1;
export const VIRQ_CONSOLE = 2;
export const VIRQ_DOM_EXC = 3;
export const VIRQ_TBUF = 4;
export const VIRQ_DEBUGGER = 6;
export const VIRQ_XENOPROF = 7;
export const VIRQ_CON_RING = 8;
export const VIRQ_PCPU_STATE = 9;
export const VIRQ_MEM_EVENT = 10;
export const VIRQ_ARGO = 11;
export const VIRQ_ENOMEM = 12;
export const VIRQ_XENPMU = 13;
export const VIRQ_ARCH_0 = 16;
export { NR_VIRQS };

const PER_VCPU = new Set([VIRQ_TIMER, VIRQ_DEBUG, VIRQ_XENOPROF, VIRQ_XENPMU]);

export function virqIsPerVcpu(virq: number): boolean {
  return PER_VCPU.has(virq);
}

/** The vCPU slot of the VIRQ→port map: the vCPU for per-vCPU VIRQs, 0 for global ones. */
export function virqSlot(virq: number, vcpu: number): number {
  return virqIsPerVcpu(virq) ? vcpu : 0;
}
