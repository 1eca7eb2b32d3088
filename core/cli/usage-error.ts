// The error every command-line mistake becomes: its message says what was wrong and what to type.
import { VmmError } from '../errors.js';

export class UsageError extends VmmError {}
