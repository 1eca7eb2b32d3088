import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_NOTICES, NOTICE_TIMEOUT_MS, useNotifications } from './notifications.js';

beforeEach(() => {
  setActivePinia(createPinia());
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('notifications store', () => {
  it('lets info fade and keeps errors until dismissed', () => {
    const notes = useNotifications();
    notes.success('Saved "a".');
    const err = notes.error('VM "a" failed');
    expect(notes.notices.map((n) => n.kind)).toEqual(['success', 'error']);
    vi.advanceTimersByTime(NOTICE_TIMEOUT_MS);
    expect(notes.notices.map((n) => n.text)).toEqual(['VM "a" failed']);
    notes.dismiss(err);
    expect(notes.notices).toEqual([]);
  });

  it('keeps only the newest notices', () => {
    const notes = useNotifications();
    for (let i = 0; i < MAX_NOTICES + 3; i++) notes.error(`e${i}`);
    expect(notes.notices).toHaveLength(MAX_NOTICES);
    expect(notes.notices.at(-1)!.text).toBe(`e${MAX_NOTICES + 2}`);
  });
});
