// The console application: a small client-side router over the public API (session-authenticated).
// Pages: organization settings, projects (with transfers), account (personal keys), new organization.
import { api, loadSession, signOut } from './api.js';
import {
  act,
  announce,
  confirmDialog,
  copyText,
  errorBox,
  h,
  loadInto,
  table,
  time,
  tokenDialog,
} from './ui.js';

const state = { session: null, orgs: [], orgId: null, firstRender: true };
const main = document.getElementById('main');
const enc = encodeURIComponent;

// ---------- shell ----------

async function boot() {
  try {
    state.session = await loadSession();
  } catch {
    window.location.assign(`/signin?next=${enc(window.location.pathname)}`);
    return;
  }
  document.getElementById('whoami').textContent = `Signed in as ${state.session.user.email}`;
  document.getElementById('signout').addEventListener('click', onSignOut);
  document.getElementById('org-switcher').addEventListener('change', (e) => {
    const value = e.target.value;
    navigate(value === '__new' ? '/orgs/new' : `/orgs/${enc(value)}/settings`);
  });
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[data-link]');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  });
  window.addEventListener('popstate', () => render());
  await refreshOrgs();
  render();
}

async function onSignOut(e) {
  await act(e.currentTarget, null, async () => {
    await signOut();
    window.location.assign('/signin');
  });
}

async function refreshOrgs() {
  try {
    const res = await api('GET', '/users/me/organizations');
    state.orgs = res.organizations;
  } catch (err) {
    announce(`Could not load your organizations: ${err.message}`);
  }
}

function navigate(path, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  render();
}

function route(pathname) {
  if (pathname === '/orgs/new') return { page: 'new-org' };
  const m = /^\/orgs\/([^/]+)\/(settings|projects)\/?$/.exec(pathname);
  if (m) return { page: m[2], orgId: decodeURIComponent(m[1]) };
  if (pathname === '/account') return { page: 'account' };
  return { page: 'home' };
}

function renderSwitcher() {
  const select = document.getElementById('org-switcher');
  select.replaceChildren(
    ...state.orgs.map((o) => h('option', { value: o.id, selected: o.id === state.orgId }, o.name)),
    h('option', { value: '__new', selected: !state.orgId }, '+ New organization…'),
  );
  select.disabled = false;
}

function renderNav(current) {
  const links = [];
  if (state.orgId) {
    links.push(['Settings', `/orgs/${enc(state.orgId)}/settings`, 'settings']);
    links.push(['Projects', `/orgs/${enc(state.orgId)}/projects`, 'projects']);
  }
  links.push(['Account', '/account', 'account']);
  document
    .getElementById('nav')
    .replaceChildren(
      ...links.map(([label, href, page]) =>
        h(
          'li',
          {},
          h('a', { href, 'data-link': true, 'aria-current': page === current ? 'page' : undefined }, label),
        ),
      ),
    );
}

function render() {
  const r = route(window.location.pathname);
  if (r.page === 'home') {
    const first = state.orgs[0];
    if (first) return navigate(`/orgs/${enc(first.id)}/settings`, { replace: true });
    return navigate('/orgs/new', { replace: true });
  }
  if (r.orgId) state.orgId = r.orgId;
  else if (r.page === 'new-org') state.orgId = null;
  renderSwitcher();
  renderNav(r.page);
  const pages = {
    settings: settingsPage,
    projects: projectsPage,
    account: accountPage,
    'new-org': newOrgPage,
  };
  pages[r.page](r.orgId);
  // Move focus to the new page's heading so keyboard and screen-reader users start there.
  const heading = main.querySelector('h1');
  if (heading && !state.firstRender) heading.focus();
  state.firstRender = false;
}

function page(title, ...children) {
  document.title = `${title} · orgplane`;
  main.replaceChildren(h('h1', { tabindex: '-1' }, title), ...children);
}

let sectionSeq = 0;
function section(title, id) {
  const headingId = `h-${id || ++sectionSeq}`;
  const body = h('div', {});
  const el = h(
    'section',
    { class: 'card', 'aria-labelledby': headingId, id },
    h('h2', { id: headingId }, title),
    body,
  );
  return { el, body };
}

const orgName = (id) => state.orgs.find((o) => o.id === id)?.name || id;
const noRoute = (err) => err.status === 404 && /^no route/.test(err.message);

// ---------- Organization settings ----------

function settingsPage(orgId) {
  const general = section('General information', 'general');
  const members = section('Members', 'members');
  const invitations = section('Invitations', 'invitations');
  const keys = section('API keys', 'api-keys');
  page('Organization settings', general.el, members.el, invitations.el, keys.el);
  loadInto(general.body, 'the organization', () => generalInfo(orgId));
  loadInto(members.body, 'members', () => membersView(orgId, members.body));
  invitationsView(orgId, invitations.body);
  orgKeysView(orgId, keys.body);
}

async function generalInfo(orgId) {
  const org = await api('GET', `/organizations/${enc(orgId)}`);
  const status = h('span', { role: 'status', class: 'success', id: 'copy-status' });
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Name'),
    h('dd', { id: 'org-name' }, org.name),
    h('dt', {}, 'Organization ID'),
    h(
      'dd',
      {},
      h('code', { id: 'org-id' }, org.id),
      ' ',
      h(
        'button',
        {
          type: 'button',
          class: 'small',
          id: 'copy-org-id',
          'aria-label': 'Copy organization ID',
          onclick: () => copyText(org.id, status),
        },
        'Copy',
      ),
      ' ',
      status,
      h('p', { class: 'hint' }, 'Use it as org_id in API calls and with neonctl --org-id.'),
    ),
    h('dt', {}, 'Plan'),
    h('dd', {}, org.plan),
    h('dt', {}, 'Created'),
    h('dd', {}, time(org.created_at)),
  );
}

async function allMembers(orgId) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < 50; i++) {
    const q = `sort_by=email&sort_order=asc&limit=100${cursor ? `&cursor=${enc(cursor)}` : ''}`;
    const res = await api('GET', `/organizations/${enc(orgId)}/members?${q}`);
    out.push(...res.members);
    cursor = res.pagination && res.pagination.next;
    if (!cursor || res.members.length === 0) break;
  }
  return out;
}

async function membersView(orgId, container) {
  const members = await allMembers(orgId);
  const me = state.session.user.id;
  const mine = members.find((m) => m.member.user_id === me);
  const isAdmin = mine && mine.member.role === 'admin';
  const errors = h('div', { id: 'members-error' });
  const reload = () => loadInto(container, 'members', () => membersView(orgId, container));

  const rows = members.map(({ member, user }) => {
    const self = member.user_id === me;
    const actions = [];
    if (isAdmin) {
      const selectId = `role-${member.id}`;
      const select = h(
        'select',
        { id: selectId },
        ['admin', 'member'].map((r) => h('option', { value: r, selected: r === member.role }, r)),
      );
      actions.push(
        h('label', { for: selectId, class: 'visually-hidden' }, `Role of ${user.email}`),
        select,
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            'aria-label': `Change role of ${user.email}`,
            onclick: async (e) => {
              const ok = await act(e.currentTarget, errors, () =>
                api('PATCH', `/organizations/${enc(orgId)}/members/${enc(member.id)}`, {
                  role: select.value,
                }),
              );
              if (ok) {
                announce(`${user.email} is now ${select.value}.`);
                reload();
              } else select.value = member.role; // refused: show the role that still holds
            },
          },
          'Change role',
        ),
      );
    }
    if (isAdmin || self) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            'aria-label': self ? 'Leave the organization' : `Remove ${user.email}`,
            onclick: async (e) => {
              const yes = await confirmDialog({
                title: self ? 'Leave the organization?' : `Remove ${user.email}?`,
                message: self
                  ? 'You will lose access to this organization and its projects.'
                  : `${user.email} loses access to the organization and its projects at once.`,
                confirmLabel: self ? 'Leave' : 'Remove member',
              });
              if (!yes) return;
              const ok = await act(e.currentTarget, errors, () =>
                api('DELETE', `/organizations/${enc(orgId)}/members/${enc(member.id)}`),
              );
              if (!ok) return;
              announce(self ? 'You left the organization.' : `${user.email} was removed.`);
              if (self) {
                await refreshOrgs();
                navigate('/');
              } else reload();
            },
          },
          self ? 'Leave' : 'Remove',
        ),
      );
    }
    return [
      h('span', {}, user.email, self ? h('span', { class: 'badge' }, 'you') : null),
      h('span', { class: 'badge' }, member.role),
      member.joined_at ? time(member.joined_at) : '',
      actions.length ? h('div', { class: 'row' }, actions) : '—',
    ];
  });
  return [
    isAdmin ? null : h('p', { class: 'hint' }, 'Only admins change roles and remove members.'),
    errors,
    table('Members', ['Email', 'Role', 'Joined', 'Actions'], rows),
  ];
}

function invitationsView(orgId, container) {
  const errors = h('div', { id: 'invite-error' });
  const list = h('div', { id: 'invitations-list' });
  const form = h(
    'form',
    { class: 'stack', id: 'invite-form', novalidate: true },
    h(
      'div',
      {},
      h('label', { for: 'invite-emails' }, 'Email addresses'),
      h('textarea', {
        id: 'invite-emails',
        name: 'emails',
        'aria-describedby': 'invite-hint',
        required: true,
      }),
      h(
        'p',
        { class: 'hint', id: 'invite-hint' },
        'One or several, separated by commas, spaces or new lines.',
      ),
    ),
    h(
      'div',
      {},
      h('label', { for: 'invite-role' }, 'Role'),
      h(
        'select',
        { id: 'invite-role', name: 'role' },
        h('option', { value: 'member' }, 'member'),
        h('option', { value: 'admin' }, 'admin'),
      ),
    ),
    errors,
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Send invitations')),
  );
  const reload = () => loadInto(list, 'invitations', () => invitationsList(orgId, list, errors));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const emails = form.emails.value.split(/[\s,;]+/).filter(Boolean);
    if (emails.length === 0) {
      errors.replaceChildren(errorBox('Enter at least one email address.'));
      form.emails.focus();
      return;
    }
    const role = form.role.value;
    const res = await act(
      form.querySelector('button[type=submit]'),
      errors,
      () =>
        api('POST', `/organizations/${enc(orgId)}/invitations`, {
          invitations: emails.map((email) => ({ email, role })),
        }),
      'Sending…',
    );
    if (!res) return;
    form.emails.value = '';
    announce(`${emails.length} invitation${emails.length === 1 ? '' : 's'} sent.`);
    reload();
  });
  container.replaceChildren(form, h('h3', {}, 'Pending invitations'), list);
  reload();
}

async function invitationsList(orgId, container, errors) {
  let res;
  try {
    res = await api('GET', `/organizations/${enc(orgId)}/invitations`);
  } catch (err) {
    if (noRoute(err)) return h('p', { class: 'hint' }, 'This server does not support invitations yet.');
    throw err;
  }
  const invitations = res.invitations || [];
  if (invitations.length === 0) return h('p', { class: 'hint' }, 'No pending invitations.');
  const reload = () => loadInto(container, 'invitations', () => invitationsList(orgId, container, errors));
  const base = (inv) => `/organizations/${enc(orgId)}/invitations/${enc(inv.id)}`;
  return table(
    'Invitations',
    ['Email', 'Role', 'Invited', 'Expires', 'Status', 'Actions'],
    invitations.map((inv) => [
      inv.email,
      inv.role,
      time(inv.invited_at),
      inv.expires_at ? time(inv.expires_at) : '—',
      inv.status || 'pending',
      // Accepted invitations are history: nothing to resend or revoke.
      (inv.status || 'pending') === 'accepted'
        ? '—'
        : h(
            'div',
            { class: 'row' },
            h(
              'button',
              {
                type: 'button',
                class: 'small',
                'aria-label': `Resend the invitation to ${inv.email}`,
                onclick: async (e) => {
                  const ok = await act(
                    e.currentTarget,
                    errors,
                    () => api('POST', `${base(inv)}/resend`),
                    'Sending…',
                  );
                  if (ok !== undefined) {
                    announce(`Invitation to ${inv.email} sent again.`);
                    reload();
                  }
                },
              },
              'Resend',
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'small danger',
                'aria-label': `Revoke the invitation to ${inv.email}`,
                onclick: async (e) => {
                  const yes = await confirmDialog({
                    title: `Revoke the invitation to ${inv.email}?`,
                    message: 'The invitation link stops working.',
                    confirmLabel: 'Revoke invitation',
                  });
                  if (!yes) return;
                  const ok = await act(e.currentTarget, errors, () => api('DELETE', base(inv)));
                  if (ok !== undefined) {
                    announce(`Invitation to ${inv.email} revoked.`);
                    reload();
                  }
                },
              },
              'Revoke',
            ),
          ),
    ]),
  );
}

/** The organization's projects, or null when this server has no projects endpoint yet. */
async function projectsOf(orgId) {
  try {
    const res = await api('GET', `/projects?org_id=${enc(orgId)}&limit=400`);
    return res.projects || [];
  } catch (err) {
    if (noRoute(err)) return null;
    throw err;
  }
}

function keyList(keys, { caption, onRevoke, withScope }) {
  if (keys.length === 0) return h('p', { class: 'hint' }, 'No API keys yet.');
  const headers = ['Name'];
  if (withScope) headers.push('Scope');
  headers.push('Created', 'Created by', 'Last used', 'Last used from', 'Actions');
  return table(
    caption,
    headers,
    keys.map((k) => {
      const cells = [h('span', {}, k.name)];
      if (withScope)
        cells.push(k.project_id ? h('span', {}, 'Project ', h('code', {}, k.project_id)) : 'Organization');
      cells.push(
        time(k.created_at),
        k.created_by ? k.created_by.name || k.created_by.id : '',
        time(k.last_used_at),
        k.last_used_from_addr || '—',
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            'aria-label': `Revoke API key ${k.name}`,
            onclick: (e) => onRevoke(k, e.currentTarget),
          },
          'Revoke',
        ),
      );
      return cells;
    }),
  );
}

async function revokeFlow(k, button, errors, path, reload) {
  const yes = await confirmDialog({
    title: `Revoke API key “${k.name}”?`,
    message: 'Anything using this key stops working at once. This cannot be undone.',
    confirmLabel: 'Revoke key',
  });
  if (!yes) return;
  const ok = await act(button, errors, () => api('DELETE', path));
  if (ok) {
    announce(`API key ${k.name} revoked.`);
    reload();
  }
}

function orgKeysView(orgId, container) {
  const errors = h('div', { id: 'keys-error' });
  const list = h('div', { id: 'org-keys-list' });
  const scope = h('div', { class: 'field' });
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
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  const reload = () =>
    loadInto(list, 'API keys', async () => {
      const keys = await api('GET', `/organizations/${enc(orgId)}/api_keys`);
      return keyList(keys, {
        caption: 'Organization API keys',
        withScope: true,
        onRevoke: (k, b) => revokeFlow(k, b, errors, `/organizations/${enc(orgId)}/api_keys/${k.id}`, reload),
      });
    });
  // Scope: the whole organization, or one of its projects (free text if the server lists none).
  loadInto(scope, 'projects', async () => {
    const projects = await projectsOf(orgId).catch(() => null);
    if (projects === null) {
      return [
        h('label', { for: 'key-project' }, 'Project ID (optional)'),
        h('input', {
          id: 'key-project',
          name: 'project_id',
          autocomplete: 'off',
          placeholder: 'organization-wide',
        }),
      ];
    }
    return [
      h('label', { for: 'key-project' }, 'Scope'),
      h(
        'select',
        { id: 'key-project', name: 'project_id' },
        h('option', { value: '' }, 'Whole organization'),
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
    const body = projectId ? { key_name: name, project_id: projectId } : { key_name: name };
    const created = await act(form.querySelector('button[type=submit]'), errors, () =>
      api('POST', `/organizations/${enc(orgId)}/api_keys`, body),
    );
    if (!created) return;
    form.key_name.value = '';
    const scopeField = form.querySelector('#key-project');
    if (scopeField) scopeField.value = '';
    tokenDialog(created.key, created.name);
    reload();
  });
  container.replaceChildren(
    h(
      'p',
      { class: 'hint' },
      'Organization keys act as an admin of this organization; project-scoped keys act as a member on one project.',
    ),
    form,
    errors,
    list,
  );
  reload();
}

// ---------- Projects and transfers ----------

function projectsPage(orgId) {
  const listSection = section('Projects', 'projects');
  const transfer = section('Transfer projects to another organization', 'transfer');
  page(`Projects of ${orgName(orgId)}`, listSection.el, transfer.el);
  const selected = new Set();
  const result = h('div', { id: 'transfer-result', 'aria-live': 'polite' });
  const reload = () => {
    selected.clear();
    result.replaceChildren();
    return loadInto(listSection.body, 'projects', async () => {
      const projects = await projectsOf(orgId);
      if (projects === null) return h('p', { class: 'hint' }, 'This server does not list projects yet.');
      if (projects.length === 0) return h('p', { class: 'hint' }, 'This organization has no projects.');
      return table(
        'Projects',
        ['Select', 'Name', 'ID', 'Created'],
        projects.map((p) => [
          h(
            'span',
            {},
            h('input', {
              type: 'checkbox',
              id: `sel-${p.id}`,
              value: p.id,
              onchange: (e) => (e.target.checked ? selected.add(p.id) : selected.delete(p.id)),
            }),
            h('label', { for: `sel-${p.id}`, class: 'visually-hidden' }, `Select ${p.name}`),
          ),
          p.name,
          h('code', {}, p.id),
          time(p.created_at),
        ]),
      );
    });
  };

  const others = state.orgs.filter((o) => o.id !== orgId);
  if (others.length === 0) {
    transfer.body.replaceChildren(
      h('p', { class: 'hint' }, 'You belong to no other organization. Create one to move projects there.'),
    );
  } else {
    const form = h(
      'form',
      { class: 'inline', id: 'transfer-form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'transfer-destination' }, 'Destination organization'),
        h(
          'select',
          { id: 'transfer-destination', name: 'destination' },
          others.map((o) => h('option', { value: o.id }, `${o.name} (${o.id})`)),
        ),
      ),
      h('button', { type: 'submit' }, 'Preview transfer'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const ids = [...selected];
      if (ids.length === 0) {
        result.replaceChildren(errorBox('Select at least one project above.'));
        return;
      }
      const dest = form.destination.value;
      const body = { destination_org_id: dest, project_ids: ids };
      const path = `/organizations/${enc(orgId)}/projects/transfer`;
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      result.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Checking what would happen…'));
      try {
        // The dry run answers a report (orgplane: `would_succeed`, `limits`, `integrations`,
        // `api_keys_revoked`); a server may also answer 406/422 directly, handled below.
        const report = (await api('POST', `${path}?dry_run=true`, body)) || {};
        if (report.would_succeed === false) {
          result.replaceChildren(
            h(
              'div',
              { class: 'error', role: 'alert' },
              h('p', {}, 'Dry run: this transfer would be refused. Nothing has changed.'),
              report.limits && report.limits.length ? limitsView(report.limits) : null,
              report.integrations && report.integrations.length
                ? integrationsView(report.integrations)
                : null,
            ),
          );
          return;
        }
        const revoked = report.api_keys_revoked || [];
        const confirm = h(
          'button',
          {
            type: 'button',
            class: 'primary',
            id: 'transfer-confirm',
            onclick: async (ev) => {
              const b = ev.currentTarget;
              b.disabled = true;
              try {
                await api('POST', path, body);
                announce('Projects transferred.');
                await reload();
                result.replaceChildren(
                  h(
                    'p',
                    { class: 'success', role: 'status' },
                    `Moved ${ids.length} project(s) to ${orgName(dest)}.`,
                  ),
                );
              } catch (err) {
                result.replaceChildren(transferError(err));
              }
            },
          },
          `Transfer ${ids.length} project${ids.length === 1 ? '' : 's'}`,
        );
        result.replaceChildren(
          h(
            'div',
            { class: 'warning' },
            h(
              'p',
              {},
              `Dry run: ${ids.length} project(s) can move from ${orgName(orgId)} to ${orgName(dest)}. Nothing has changed yet.`,
            ),
            h(
              'ul',
              {},
              ids.map((id) => h('li', {}, h('code', {}, id))),
            ),
            revoked.length
              ? h(
                  'div',
                  {},
                  h('p', {}, 'These project-scoped API keys will stop working:'),
                  h(
                    'ul',
                    {},
                    revoked.map((k) => h('li', {}, `${k.name} (project ${k.project_id})`)),
                  ),
                )
              : null,
            confirm,
          ),
        );
        confirm.focus();
      } catch (err) {
        result.replaceChildren(transferError(err));
      } finally {
        button.disabled = false;
      }
    });
    transfer.body.replaceChildren(
      h(
        'p',
        { class: 'hint' },
        'Select projects above, pick a destination, and preview: nothing moves until you confirm.',
      ),
      form,
      result,
    );
  }
  reload();
}

function limitsView(limits) {
  return h(
    'div',
    {},
    h('p', {}, "The destination organization's plan does not allow this transfer:"),
    h(
      'ul',
      {},
      limits.map((l) =>
        h('li', {}, `${l.name}: expected ${l.expected}, but the destination organization has ${l.actual}`),
      ),
    ),
  );
}

function integrationsView(projects) {
  return h(
    'div',
    {},
    h('p', {}, 'These projects have integrations that must be removed before they can move:'),
    h(
      'ul',
      {},
      projects.map((p) => h('li', {}, h('code', {}, p.id), ` (${p.integration})`)),
    ),
  );
}

/** 406 (plan limits) and 422 (integrations) explained in plain words; anything else shows the API's message. */
function transferError(err) {
  const b = err.body || {};
  if (err.status === 406 && Array.isArray(b.limits)) {
    return h('div', { class: 'error', role: 'alert' }, limitsView(b.limits), h('p', {}, b.message || ''));
  }
  if (err.status === 422 && Array.isArray(b.projects)) {
    return h(
      'div',
      { class: 'error', role: 'alert' },
      integrationsView(b.projects),
      h('p', {}, b.message || ''),
    );
  }
  return errorBox(err.message);
}

// ---------- Account ----------

function accountPage() {
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
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  const reload = () =>
    loadInto(list, 'API keys', async () =>
      keyList(await api('GET', '/api_keys'), {
        caption: 'Personal API keys',
        withScope: false,
        onRevoke: (k, b) => revokeFlow(k, b, errors, `/api_keys/${k.id}`, reload),
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
    const created = await act(form.querySelector('button[type=submit]'), errors, () =>
      api('POST', '/api_keys', { key_name: name }),
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

function newOrgPage() {
  const errors = h('div', { id: 'new-org-error' });
  const form = h(
    'form',
    { class: 'stack', id: 'new-org-form', novalidate: true },
    h(
      'div',
      {},
      h('label', { for: 'new-org-name' }, 'Organization name'),
      h('input', { id: 'new-org-name', name: 'name', maxlength: '256', required: true }),
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
    );
    if (!org) return;
    await refreshOrgs();
    announce(`Organization ${org.name} created.`);
    navigate(`/orgs/${enc(org.id)}/settings`);
  });
  const card = h(
    'div',
    { class: 'card' },
    state.orgs.length === 0 ? h('p', {}, 'You do not belong to any organization yet. Create one:') : null,
    form,
  );
  page('New organization', card);
}

boot();
