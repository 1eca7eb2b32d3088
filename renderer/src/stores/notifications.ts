// Short-lived messages for things that happened away from where the user is looking (a VM
// that failed in the background, a saved profile). Errors stay until dismissed; the rest
// fade after a few seconds. Problems tied to one place are shown there, not here.
import { defineStore } from 'pinia';
import { ref } from 'vue';

export type NoticeKind = 'info' | 'success' | 'error';

export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
}

/** How long info and success notices stay visible. */
export const NOTICE_TIMEOUT_MS = 6000;
/** Older notices are dropped beyond this many, so a flood cannot cover the window. */
export const MAX_NOTICES = 5;

export const useNotifications = defineStore('notifications', () => {
  const notices = ref<Notice[]>([]);
  let nextId = 1;

  function push(kind: NoticeKind, text: string): number {
    const id = nextId++;
    notices.value = [...notices.value, { id, kind, text }].slice(-MAX_NOTICES);
    if (kind !== 'error') setTimeout(() => dismiss(id), NOTICE_TIMEOUT_MS);
    return id;
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  return {
    notices,
    push,
    dismiss,
    info: (text: string) => push('info', text),
    success: (text: string) => push('success', text),
    error: (text: string) => push('error', text),
  };
});
