// Live validation for the profile editor with the core's own schema and messages:
// parseProfile() runs ProfileSchema.safeParse and turns each zod issue into the
// { path: "devices[1].msix.vectors", message } the service would answer on save.
import type { FieldIssue } from '../../../core/api/contract.js';
import { ProfileError } from '../../../core/profiles/errors.js';
import { parseProfile } from '../../../core/profiles/schema.js';

export function validateProfile(draft: unknown): FieldIssue[] {
  try {
    parseProfile(draft);
    return [];
  } catch (e) {
    if (e instanceof ProfileError) return e.issues.length ? e.issues : [{ path: '', message: e.message }];
    return [{ path: '', message: e instanceof Error ? e.message : String(e) }];
  }
}

/** Issues grouped by path, for fields to look up their own. */
export function issuesByPath(issues: readonly FieldIssue[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const i of issues) {
    const list = out.get(i.path);
    if (list) list.push(i.message);
    else out.set(i.path, [i.message]);
  }
  return out;
}
