// The one modal at a time: a confirmation or a name prompt. `submit` runs the action while
// the dialog stays open, so a refusal from the service is shown in the dialog itself and
// the user can correct the name or cancel.
import { defineStore } from 'pinia';
import { ref } from 'vue';

export interface DialogSpec {
  kind: 'confirm' | 'prompt';
  title: string;
  text?: string;
  /** Prompt only: the initial value and the field's label. */
  value?: string;
  label?: string;
  confirmLabel: string;
  danger?: boolean;
  /** Performs the action; resolves to an error message to show, or null when done. */
  submit: (value: string) => Promise<string | null>;
}

export const useDialogs = defineStore('dialogs', () => {
  const current = ref<DialogSpec | null>(null);
  const error = ref<string | null>(null);
  const busy = ref(false);

  function open(spec: DialogSpec): void {
    current.value = spec;
    error.value = null;
    busy.value = false;
  }

  async function submit(value: string): Promise<boolean> {
    const spec = current.value;
    if (!spec || busy.value) return false;
    busy.value = true;
    error.value = null;
    try {
      const problem = await spec.submit(value);
      if (problem) {
        error.value = problem;
        return false;
      }
      if (current.value === spec) current.value = null;
      return true;
    } finally {
      busy.value = false;
    }
  }

  function cancel(): void {
    if (!busy.value) current.value = null;
  }

  return { current, error, busy, open, submit, cancel };
});
