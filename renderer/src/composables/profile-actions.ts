// Library actions that need the user's word first (duplicate asks for a name, delete asks
// for confirmation) and then move the page to where the result is.
import { useDialogs } from '../stores/dialogs.js';
import { useLibrary } from '../stores/library.js';
import { useNav } from '../stores/nav.js';
import { useNotifications } from '../stores/notifications.js';
import { newProfileTemplate } from '../lib/profile-template.js';
import { messageOf } from '../vmm.js';

export function useProfileActions() {
  const dialogs = useDialogs();
  const library = useLibrary();
  const nav = useNav();
  const notes = useNotifications();

  function duplicate(name: string): void {
    dialogs.open({
      kind: 'prompt',
      title: `Duplicate "${name}"`,
      label: 'Name of the copy',
      value: library.freeName(`${name} copy`),
      confirmLabel: 'Duplicate',
      submit: async (newName) => {
        const trimmed = newName.trim();
        if (!trimmed) return 'Enter a name for the copy.';
        if (library.byName(trimmed)) return `A profile named "${trimmed}" already exists.`;
        try {
          const copy = await library.duplicate(name, trimmed);
          nav.openVm(copy.name, 'profile');
          notes.success(`Created "${copy.name}" from "${name}".`);
          return null;
        } catch (e) {
          return messageOf(e);
        }
      },
    });
  }

  function remove(name: string): void {
    dialogs.open({
      kind: 'confirm',
      title: `Delete "${name}"?`,
      text: 'The profile file is removed. Images it refers to are kept.',
      confirmLabel: 'Delete',
      danger: true,
      submit: async () => {
        try {
          await library.remove(name);
          nav.profileRenamed(name, null);
          notes.info(`Deleted "${name}".`);
          return null;
        } catch (e) {
          return messageOf(e);
        }
      },
    });
  }

  /** The editor for a new VM, booting the same kernel as the first built-in demo. */
  function createNew(): void {
    nav.openNew(newProfileTemplate(library.freeName('New VM'), library.builtins[0]?.kernel ?? ''));
  }

  return { duplicate, remove, createNew };
}
