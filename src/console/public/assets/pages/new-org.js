// Creating an organization.
import { api } from '../api.js';
import { act, errorBox, h, toast } from '../ui.js';
import { enc, navigate, page, refreshOrgs, state } from '../context.js';

export function newOrgPage() {
  const errors = h('div', { id: 'new-org-error' });
  const form = h(
    'form',
    { class: 'stack', id: 'new-org-form', novalidate: true },
    h(
      'div',
      {},
      h('label', { for: 'new-org-name' }, 'Organization name'),
      h('input', { id: 'new-org-name', name: 'name', maxlength: '256', required: true }),
      h('p', { class: 'hint' }, 'You become its admin. New organizations start on the free plan.'),
    ),
    errors,
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Create organization')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = form.name.value.trim();
    if (!name) {
      errors.replaceChildren(errorBox('Give the organization a name.'));
      form.name.focus();
      return;
    }
    const org = await act(
      form.querySelector('button[type=submit]'),
      errors,
      () => api('POST', '/organizations', { name }),
      'Creating…',
      'org-create',
    );
    if (!org) return;
    await refreshOrgs();
    toast(`Organization ${org.name} created. You are its admin.`);
    navigate(`/orgs/${enc(org.id)}/projects`);
  });
  const card = h(
    'div',
    { class: 'card' },
    state.orgs.length === 0 ? h('p', {}, 'You do not belong to any organization yet. Create one:') : null,
    form,
  );
  page('New organization', card);
}
