// Errors raised while reading, validating, saving or resolving VM profiles. `issues` keeps
// the field-level problems so a profile editor can mark the offending fields.
import { VmmError } from '../errors.js';

export interface ProfileIssue {
  /** Field path as written in messages, e.g. `devices[1].port`; '' for the whole file. */
  path: string;
  message: string;
}

export class ProfileError extends VmmError {
  readonly file: string | undefined;
  readonly issues: ProfileIssue[];

  constructor(
    message: string,
    options: { file?: string; issues?: ProfileIssue[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.file = options.file;
    this.issues = options.issues ?? [];
  }
}
