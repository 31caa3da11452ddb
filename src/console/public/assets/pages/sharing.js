// The sharing dialog of a project: grant by email, list, revoke.
import { api } from '../api.js';
import { act, errorBox, h, loadInto, table, time, toast } from '../ui.js';
import { can, enc, projectCan, projectWhy, smtpConfigured, why } from '../context.js';

export async function sharingDialog(project) {
  const opener = document.activeElement;
  // This project's own capabilities: a grant, not only the organization role, decides.
  // The dialog opens once they are known; meanwhile the button that opened it says it is busy.
  opener?.setAttribute('aria-busy', 'true');
  const pc = await api('GET', `/projects/${enc(project.id)}/capabilities`)
    .catch(() => null)
    .finally(() => opener?.removeAttribute('aria-busy'));
  const may = (action) => (pc ? projectCan(pc, action) : can(action));
  const mayWhy = (action) => (pc ? projectWhy(pc, action) : why(action));
  const base = `/projects/${enc(project.id)}/permissions`;
  const errors = h('div', { id: 'sharing-error' });
  const list = h('div', { id: 'sharing-list' });
  const reload = () =>
    loadInto(list, 'project access', async () => {
      const res = await api('GET', base);
      const grants = (res.project_permissions || []).filter((g) => !g.revoked_at);
      if (grants.length === 0)
        return h(
          'p',
          { class: 'hint', id: 'no-grants' },
          'Not shared with anyone yet. Enter an email address above.',
        );
      return table(
        'People with access',
        ['Email', 'Since', 'Actions'],
        grants.map((g) => [
          g.granted_to_email,
          time(g.granted_at),
          !may('project_permission:revoke')
            ? '—'
            : h(
                'button',
                {
                  type: 'button',
                  class: 'small danger',
                  'aria-label': `Revoke access of ${g.granted_to_email}`,
                  onclick: async (e) => {
                    const ok = await act(
                      e.currentTarget,
                      errors,
                      () => api('DELETE', `${base}/${enc(g.id)}`),
                      null,
                      'share-revoke',
                    );
                    if (ok === undefined) return;
                    toast(`${g.granted_to_email} no longer has access to ${project.name}.`);
                    reload();
                  },
                },
                'Revoke',
              ),
        ]),
      );
    });
  const form = h(
    'form',
    { class: 'inline', id: 'share-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'share-email' }, 'Email address'),
      h('input', { id: 'share-email', name: 'email', type: 'email', maxlength: '256', autocomplete: 'off' }),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Share'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const email = form.email.value.trim();
    if (!email) {
      errors.replaceChildren(errorBox('Enter an email address.'));
      return;
    }
    const ok = await act(
      form.querySelector('button[type=submit]'),
      errors,
      () => api('POST', base, { email }),
      null,
      'share',
    );
    if (ok === undefined) return;
    form.email.value = '';
    toast(`${project.name} is now shared with ${email}.`);
    reload();
  });
  const titleId = `share-${project.id}`;
  const dialog = h(
    'dialog',
    { 'aria-labelledby': titleId, class: 'wide' },
    h('h2', { id: titleId }, `Share project “${project.name}”`),
    h(
      'p',
      { class: 'hint' },
      `People you share with can use this project without being members of the organization. Someone without an account gets an email with a link to create one.${smtpConfigured() === false ? ' Mail is not configured on this server, so no email is sent: tell them yourself.' : ''}`,
    ),
    may('project_permission:grant') ? form : h('p', { class: 'hint' }, mayWhy('project_permission:grant')),
    errors,
    list,
    h('div', { class: 'row spaced' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Done')),
  );
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  dialog.showModal();
  if (form.isConnected) form.email.focus();
  reload();
}

// ---------- Claiming a project transfer request ----------
