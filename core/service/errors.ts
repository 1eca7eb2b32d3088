// Errors the app service raises. Each message is shown to the user as is, so it says what
// went wrong and what to do; `toWireError` turns any error into the contract's WireError.
import type { FieldIssue, WireError } from '../api/contract.js';
import { VmmError } from '../errors.js';
import { ProfileError } from '../profiles/errors.js';

export class VmNotFoundError extends VmmError {}
/** A request for a VM that exists but is not in a state to answer it. */
export class VmStateError extends VmmError {}
/** The VM host did not answer, answered garbage, or ended while a request was pending. */
export class HostRequestError extends VmmError {}
export class ImageError extends VmmError {}
export class SettingsError extends VmmError {}

const MAX_ISSUES = 200;

/** Our own errors carry user-facing messages; anything else is a bug, logged in full. */
export function toWireError(where: string, e: unknown, log: (message: string, error?: unknown) => void): WireError {
  if (e instanceof ProfileError) {
    const issues: FieldIssue[] = e.issues.slice(0, MAX_ISSUES).map((i) => ({ path: i.path, message: i.message }));
    return { name: e.name, message: e.message, ...(issues.length > 0 && { issues }) };
  }
  if (e instanceof VmmError) return { name: e.name, message: e.message };
  log(`internal error in ${where}`, e);
  const message = e instanceof Error ? e.message : String(e);
  return { name: 'InternalError', message: `internal error: ${message} (details in the app log)` };
}
