// Settings → API keys: organization and project-scoped keys, rotation, "What can it do?".
import { api } from '../api.js';
import { act, errorBox, h, loadInto, table, tokenDialog } from '../ui.js';
import { can, enc, fill, projectsOf, state, why } from '../context.js';
import { expiresAtOf, expiryField, keyList, revokeFlow, rotateButton } from '../keys.js';

export function orgKeysView(orgId, container) {
  const errors = h('div', { id: 'keys-error' });
  const list = h('div', { id: 'org-keys-list' });
  const orgKeys = can('org_api_key:create');
  const projectKeys = can('project_api_key:create');
  const me = state.session.user.id;
  const reload = () =>
    loadInto(list, 'API keys', async () => {
      if (!can('org_api_key:list'))
        return h('p', { class: 'hint', id: 'keys-hidden' }, why('org_api_key:list'));
      const keys = await api('GET', `/organizations/${enc(orgId)}/api_keys`);
      return keyList(keys, {
        caption: 'Organization API keys',
        withScope: true,
        emptyText:
          orgKeys || projectKeys
            ? 'Create a key above for CI, scripts or a service.'
            : 'Admins create keys for CI, scripts and services.',
        // Revoking others' keys is an admin action; a member may revoke the project keys they made.
        canRevoke: (k) =>
          can('org_api_key:revoke') ||
          (can('org_api_key:revoke_own') && Boolean(k.project_id) && k.created_by && k.created_by.id === me),
        onRevoke: (k, b) => revokeFlow(k, b, errors, `/organizations/${enc(orgId)}/api_keys/${k.id}`, reload),
        extraActions: (k) => [
          // The policy's rotate actions: organization keys, others' project keys, your own.
          (k.project_id
            ? can('project_api_key:rotate') ||
              (can('project_api_key:rotate_own') && k.created_by && k.created_by.id === me)
            : can('org_api_key:rotate')) &&
          (!k.canary || can('org_api_key:create_canary'))
            ? rotateButton(k, `/organizations/${enc(orgId)}/api_keys/${k.id}/rotate`, errors, reload)
            : null,
          can('access:explain') ? explainButton(orgId, k) : null,
        ],
      });
    });
  const intro = h(
    'p',
    { class: 'hint' },
    'Organization keys act as an admin of this organization; project-scoped keys act as a member on one project.',
  );
  if (!orgKeys && !projectKeys) {
    container.replaceChildren(
      intro,
      h('div', { class: 'notice info', id: 'keys-not-allowed' }, h('p', {}, why('project_api_key:create'))),
      errors,
      list,
    );
    reload();
    return;
  }
  const scope = h('div', { class: 'field' });
  const expiry = h('div', { class: 'field' });
  const form = h(
    'form',
    { class: 'inline', id: 'org-key-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'key-name' }, 'Key name'),
      h('input', { id: 'key-name', name: 'key_name', maxlength: '64', required: true, autocomplete: 'off' }),
    ),
    scope,
    expiry,
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  // The organization's maximum key lifetime (when set) bounds the choices.
  loadInto(expiry, 'expiry choices', async () => {
    const org = await api('GET', `/organizations/${enc(orgId)}`).catch(() => ({}));
    return [...expiryField('key', org.max_api_key_lifetime_days).children];
  });
  // Scope: the whole organization (admins), or one of its projects.
  loadInto(scope, 'projects', async () => {
    const projects = await projectsOf(orgId).catch(() => null);
    if (projects === null) {
      return [
        h('label', { for: 'key-project' }, orgKeys ? 'Project ID (optional)' : 'Project ID'),
        h('input', {
          id: 'key-project',
          name: 'project_id',
          autocomplete: 'off',
          placeholder: orgKeys ? 'organization-wide' : '',
        }),
      ];
    }
    return [
      h('label', { for: 'key-project' }, 'Scope'),
      h(
        'select',
        { id: 'key-project', name: 'project_id' },
        orgKeys ? h('option', { value: '' }, 'Whole organization') : null,
        projects.map((p) => h('option', { value: p.id }, `Project ${p.name} (${p.id})`)),
      ),
    ];
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = form.key_name.value.trim();
    if (!name) {
      errors.replaceChildren(errorBox('Give the key a name.'));
      form.key_name.focus();
      return;
    }
    const projectId = form.querySelector('#key-project')?.value.trim();
    if (!orgKeys && !projectId) {
      errors.replaceChildren(errorBox(`${why('org_api_key:create')} Choose a project for this key.`));
      return;
    }
    const expiresAt = expiresAtOf(form, 'key');
    const body = {
      key_name: name,
      ...(projectId ? { project_id: projectId } : {}),
      ...(expiresAt ? { expires_at: expiresAt } : {}),
    };
    const created = await act(
      form.querySelector('button[type=submit]'),
      errors,
      () => api('POST', `/organizations/${enc(orgId)}/api_keys`, body),
      null,
      'key-create',
    );
    if (!created) return;
    form.key_name.value = '';
    const scopeField = form.querySelector('#key-project');
    if (scopeField && scopeField.tagName !== 'SELECT') scopeField.value = '';
    else if (scopeField && orgKeys) scopeField.value = '';
    tokenDialog(created.key, created.name);
    reload();
  });
  fill(
    container,
    intro,
    orgKeys
      ? null
      : h(
          'p',
          { class: 'hint', id: 'keys-member-hint' },
          `${why('org_api_key:create')} You can create keys for one project.`,
        ),
    form,
    errors,
    list,
  );
  reload();
}

/** Operations people ask about, in words. */
const EXPLAIN_OPERATIONS = [
  ['getOrganization', 'Read the organization'],
  ['listProjects', 'List projects'],
  ['createProject', 'Create projects'],
  ['updateProject', 'Change its project', true],
  ['deleteProject', 'Delete its project', true],
  ['getOrganizationMembers', 'List members'],
  ['updateOrganizationMember', 'Change member roles'],
  ['createOrganizationInvitations', 'Invite people'],
  ['createOrgApiKey', 'Create organization API keys'],
];

function explainButton(orgId, k) {
  return h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': `What can it do? (API key ${k.name})`,
      onclick: () => explainDialog(orgId, k),
    },
    'What can it do?',
  );
}

function explainDialog(orgId, k) {
  const opener = document.activeElement;
  const titleId = `explain-${k.id}`;
  const body = h('div', { id: 'explain-result' });
  const dialog = h(
    'dialog',
    { 'aria-labelledby': titleId, class: 'wide' },
    h('h2', { id: titleId }, `What can “${k.name}” do?`),
    h(
      'p',
      { class: 'hint' },
      'Answered by the server from the same rules that decide real requests; nothing is done.',
    ),
    body,
    h(
      'div',
      { class: 'row spaced' },
      h('button', { type: 'button', onclick: () => dialog.close() }, 'Close'),
    ),
  );
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  dialog.showModal();
  loadInto(body, 'the answers', async () => {
    const rows = await Promise.all(
      EXPLAIN_OPERATIONS.map(async ([operation, label, onProject]) => {
        const target = onProject ? k.project_id : undefined;
        if (onProject && !target) return null;
        const r = await api('POST', `/organizations/${enc(orgId)}/access/explain`, {
          key_id: k.id,
          operation,
          ...(target ? { target } : {}),
        });
        return [
          label,
          h('span', { class: `badge ${r.allowed ? 'admin' : 'danger'}` }, r.allowed ? 'allowed' : 'refused'),
          r.allowed ? '' : r.reason,
        ];
      }),
    );
    return table('What the key may do', ['Operation', 'Answer', 'Why not'], rows.filter(Boolean));
  });
}

// ---------- Audit log ----------
