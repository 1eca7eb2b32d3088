// Architectural register bits shared by everything that sets up or inspects vCPU state
// (boot state, guest page-table walks, the Xen hypercall ABI). Intel SDM vol. 3A §2.5
// (CR0/CR4) and §2.2.1 (EFER).
export const CR0_PE = 1n << 0n;
export const CR0_MP = 1n << 1n;
export const CR0_ET = 1n << 4n;
export const CR0_NE = 1n << 5n;
export const CR0_WP = 1n << 16n;
export const CR0_PG = 1n << 31n;
export const CR4_PSE = 1n << 4n;
export const CR4_PAE = 1n << 5n;
export const CR4_LA57 = 1n << 12n;
export const EFER_LME = 1n << 8n;
export const EFER_LMA = 1n << 10n;
