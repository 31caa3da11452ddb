// Account: personal API keys.
import { api } from '../api.js';
import { act, errorBox, h, loadInto, tokenDialog } from '../ui.js';
import { can, page, section, state } from '../context.js';
import { expiresAtOf, expiryField, keyList, revokeFlow, rotateButton } from '../keys.js';

export function accountPage() {
  const keys = section('Personal API keys', 'personal-keys');
  page('Account', keys.el);
  const errors = h('div', { id: 'personal-keys-error' });
  const list = h('div', { id: 'personal-keys-list' });
  const form = h(
    'form',
    { class: 'inline', id: 'personal-key-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'personal-key-name' }, 'Key name'),
      h('input', {
        id: 'personal-key-name',
        name: 'key_name',
        maxlength: '64',
        required: true,
        autocomplete: 'off',
      }),
    ),
    expiryField('personal-key'),
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  // Rotating personal keys is an account action of the policy (any organization's capabilities list it).
  const rotatable = !state.caps || can('personal_api_key:rotate');
  const reload = () =>
    loadInto(list, 'API keys', async () =>
      keyList(await api('GET', '/api_keys'), {
        caption: 'Personal API keys',
        withScope: false,
        emptyText: 'Create a key above to use the API, the SDK or neonctl as yourself.',
        canRevoke: () => true,
        onRevoke: (k, b) => revokeFlow(k, b, errors, `/api_keys/${k.id}`, reload),
        extraActions: (k) => [rotatable ? rotateButton(k, `/api_keys/${k.id}/rotate`, errors, reload) : null],
      }),
    );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = form.key_name.value.trim();
    if (!name) {
      errors.replaceChildren(errorBox('Give the key a name.'));
      form.key_name.focus();
      return;
    }
    const created = await act(
      form.querySelector('button[type=submit]'),
      errors,
      () => {
        const expiresAt = expiresAtOf(form, 'personal-key');
        return api('POST', '/api_keys', { key_name: name, ...(expiresAt ? { expires_at: expiresAt } : {}) });
      },
      null,
      'key-create',
    );
    if (!created) return;
    form.key_name.value = '';
    tokenDialog(created.key, created.name);
    reload();
  });
  keys.body.replaceChildren(
    h(
      'p',
      { class: 'hint' },
      `Personal keys act as you (${state.session.user.email}) in every organization you belong to.`,
    ),
    form,
    errors,
    list,
  );
  reload();
}

// ---------- New organization ----------
