// How editor fields find their validation messages: the editor provides the current issues
// (live schema issues plus the service's answer to the last save), each field looks up its
// path and claims it, and whatever no field claims is listed at the top of the form, so no
// problem is ever invisible (unknown keys, whole-object refinements, hidden fields).
import { inject, onBeforeUnmount, provide, reactive, type InjectionKey } from 'vue';
import type { FieldIssue } from '../../../../core/api/contract.js';

export interface IssueContext {
  issues(): readonly FieldIssue[];
  claimed: Map<string, number>;
}

const KEY: InjectionKey<IssueContext> = Symbol('profile-issues');

export function provideIssues(issues: () => readonly FieldIssue[]): IssueContext {
  const ctx: IssueContext = { issues, claimed: reactive(new Map<string, number>()) };
  provide(KEY, ctx);
  return ctx;
}

/** The messages for `path()`; registers the path as shown while the component lives. */
export function useFieldIssues(path: () => string): () => string[] {
  const ctx = inject(KEY, null);
  if (!ctx) return () => [];
  let held: string | null = null;
  const claim = (p: string) => {
    if (held === p) return;
    release();
    held = p;
    ctx.claimed.set(p, (ctx.claimed.get(p) ?? 0) + 1);
  };
  const release = () => {
    if (held === null) return;
    const n = (ctx.claimed.get(held) ?? 1) - 1;
    if (n <= 0) ctx.claimed.delete(held);
    else ctx.claimed.set(held, n);
    held = null;
  };
  onBeforeUnmount(release);
  return () => {
    const p = path();
    claim(p);
    return ctx.issues().flatMap((i) => (i.path === p ? [i.message] : []));
  };
}

export function unclaimed(ctx: IssueContext): FieldIssue[] {
  return ctx.issues().filter((i) => !ctx.claimed.has(i.path));
}
