// A project row's pieces, shared by the organization's project list and "Shared with you": the
// name link and the Rename and Share buttons, so both pages name, label and behave alike.
import { api } from '../api.js';
import { act, h, promptDialog, toast } from '../ui.js';
import { enc } from '../context.js';
import { sharingDialog } from './sharing.js';

export function projectLink(pr) {
  return h('a', { class: 'project-name', href: `/projects/${enc(pr.id)}`, 'data-link': true }, pr.name);
}

/** Asks for a new name, renames, and calls onRenamed after the toast. */
export function renameButton(pr, onRenamed) {
  return h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': `Rename project ${pr.name}`,
      onclick: async () => {
        const name = await promptDialog({
          title: `Rename project “${pr.name}”`,
          label: 'New name',
          value: pr.name,
          confirmLabel: 'Rename',
          submit: async (value, slot) =>
            (await act(
              null,
              slot,
              () => api('PATCH', `/projects/${enc(pr.id)}`, { project: { name: value } }),
              null,
              'project-rename',
            )) !== undefined,
        });
        if (name === null) return;
        toast(`Project renamed to ${name}.`);
        onRenamed();
      },
    },
    'Rename',
  );
}

export function shareButton(pr) {
  return h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': `Share project ${pr.name}`,
      onclick: () => sharingDialog(pr),
    },
    'Share',
  );
}
