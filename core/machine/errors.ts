// Errors raised while building a machine from its configuration.
import { VmmError } from '../errors.js';

export class MachineConfigError extends VmmError {}
