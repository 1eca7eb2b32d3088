// Errors of the PCI layer. Only configuration mistakes (a device profile asking for an
// impossible layout, a slot taken twice) throw; guest accesses never do, they are answered
// architecturally and counted in the models' `stats`.
import { VmmError } from '../errors.js';

/** A device, BAR or capability definition that cannot exist (size, offset, vector count). */
export class PciConfigError extends VmmError {}

/** A device/function slot that is taken, out of range, or missing its function 0. */
export class PciSlotError extends VmmError {}
