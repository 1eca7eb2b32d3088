// Errors of the interrupt fabric (core/irq). Short messages; the failing syscall travels
// in `cause`.
import { VmmError } from '../errors.js';

export class IrqError extends VmmError {}

/** A vector or pin index outside the group. */
export class IrqIndexError extends IrqError {}

/** A KVM call (routing, irqfd, MSI injection) failed. */
export class IrqKvmError extends IrqError {}

/** A group was used after destroy(). */
export class IrqDestroyedError extends IrqError {}
