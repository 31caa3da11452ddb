// The console application: a small client-side router over the public API (session-authenticated).
// What a page offers follows the viewer's capabilities as the server computes them
// (GET /organizations/{id}/capabilities, decided by the same policy as every request): the
// console keeps no copy of the permission rules.
import { api, loadSession, safeNext, signOut } from './api.js';
import { humanMessage } from './messages.js';
import {
  act,
  confirmDialog,
  copyText,
  errorBox,
  h,
  loadInto,
  promptDialog,
  table,
  time,
  toast,
  tokenDialog,
} from './ui.js';

const state = { session: null, orgs: [], orgId: null, caps: null, firstRender: true, seq: 0 };
const main = document.getElementById('main');
const enc = encodeURIComponent;

/** One line per role: what each may do (the server says which roles the organization offers). */
const ROLE_TEXT = {
  admin: 'Admin: everything, including members, invitations, organization keys and deleting projects.',
  member: 'Member: sees the organization; creates, renames and transfers in projects; no member management.',
  editor: 'Editor: creates and changes projects; no member or key management.',
  viewer: 'Viewer: read-only access to the organization and its projects.',
  collaborator: 'Collaborator: no organization access; only the projects shared with them.',
};

// ---------- shell ----------

async function boot() {
  try {
    state.session = await loadSession();
  } catch {
    window.location.assign(`/signin?next=${enc(window.location.pathname)}`);
    return;
  }
  document.getElementById('whoami').textContent = state.session.user.email;
  document.getElementById('signout').addEventListener('click', onSignOut);
  document.getElementById('org-switcher').addEventListener('change', (e) => {
    const value = e.target.value;
    if (value === '__unknown') return;
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
    toast(`Could not load your organizations. ${humanMessage(err)}`);
  }
}

function navigate(path, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  render();
}

const SETTINGS_TABS = [
  ['general', 'General'],
  ['members', 'Members'],
  ['invitations', 'Invitations'],
  ['api-keys', 'API keys'],
  // Shown only where the server's policy has the action (and the viewer may read it).
  ['audit', 'Audit log', 'audit_log:read'],
];

function route(pathname) {
  if (pathname === '/' || pathname === '') return { page: 'home' };
  if (pathname === '/orgs/new') return { page: 'new-org' };
  if (pathname === '/account') return { page: 'account' };
  let m = /^\/orgs\/([^/]+)\/settings(?:\/([a-z-]+))?\/?$/.exec(pathname);
  if (m) {
    const tab = m[2] || 'general';
    if (!SETTINGS_TABS.some(([id]) => id === tab)) return { page: 'not-found' };
    return { page: 'settings', orgId: decodeURIComponent(m[1]), tab };
  }
  // The claim link of a project transfer request (Neon's console uses /app/claim?p=…&tr=…).
  if (pathname === '/claim' || pathname === '/app/claim') return { page: 'claim' };
  // orgplane's claim_url: /transfer-requests/{request_id}?project_id=…
  const claim = /^\/transfer-requests\/([^/]+)\/?$/.exec(pathname);
  if (claim) return { page: 'claim', requestId: decodeURIComponent(claim[1]) };
  m = /^\/orgs\/([^/]+)\/projects\/?$/.exec(pathname);
  if (m) return { page: 'projects', orgId: decodeURIComponent(m[1]) };
  return { page: 'not-found' };
}

function renderSwitcher() {
  const select = document.getElementById('org-switcher');
  const known = state.orgs.some((o) => o.id === state.orgId);
  fill(
    select,
    state.orgId && !known
      ? h('option', { value: '__unknown', selected: true }, 'Unknown organization')
      : null,
    !state.orgId ? h('option', { value: '__unknown', selected: true, disabled: true }, 'Choose…') : null,
    ...state.orgs.map((o) => h('option', { value: o.id, selected: o.id === state.orgId }, o.name)),
    h('option', { value: '__new' }, '+ New organization…'),
  );
  select.disabled = false;
}

function renderNav(current) {
  const links = [];
  const known = state.orgs.some((o) => o.id === state.orgId);
  if (state.orgId && known) {
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

async function render() {
  const seq = ++state.seq;
  const r = route(window.location.pathname);
  if (r.page === 'home') {
    const first = state.orgs[0];
    if (first) return navigate(`/orgs/${enc(first.id)}/settings`, { replace: true });
    return navigate('/orgs/new', { replace: true });
  }
  if (r.orgId) state.orgId = r.orgId;
  else if (r.page === 'new-org') state.orgId = null;
  // Pages outside an organization keep the switcher and links on one of yours.
  else if (!state.orgId && state.orgs[0]) state.orgId = state.orgs[0].id;
  renderSwitcher();
  renderNav(r.page);
  if (r.orgId) {
    // What this viewer may do here, from the server; an unknown organization is one clear page.
    main.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    try {
      const caps = await api('GET', `/organizations/${enc(r.orgId)}/capabilities`);
      if (seq !== state.seq) return;
      state.caps = caps;
    } catch (err) {
      if (seq !== state.seq) return;
      state.caps = null;
      if (err.status === 404) orgNotFoundPage(r.orgId);
      else page('Something went wrong', errorBox(err));
      return finishRender();
    }
  }
  const pages = {
    settings: settingsPage,
    projects: projectsPage,
    account: accountPage,
    'new-org': newOrgPage,
    'not-found': notFoundPage,
    claim: claimPage,
  };
  pages[r.page](r.orgId, r.tab, r);
  finishRender();
}

function finishRender() {
  // Move focus to the new page's heading so keyboard and screen-reader users start there.
  const heading = main.querySelector('h1');
  if (heading && !state.firstRender) heading.focus();
  state.firstRender = false;
}

function page(title, ...children) {
  document.title = `${title} · orgplane`;
  fill(main, h('h1', { tabindex: '-1' }, title), ...children);
}

function section(title, id, ...intro) {
  const headingId = `h-${id}`;
  const body = h('div', {});
  const el = h(
    'section',
    { class: 'card', 'aria-labelledby': headingId, id },
    h('h2', { id: headingId }, title),
    ...intro,
    body,
  );
  return { el, body };
}

function emptyState(title, text, action) {
  return h('div', { class: 'empty-state' }, h('h3', {}, title), h('p', {}, text), action || null);
}

/** replaceChildren without the "null" text nodes it would make of skipped children. */
const fill = (el, ...children) => el.replaceChildren(...children.flat().filter(Boolean));
const orgName = (id) => state.orgs.find((o) => o.id === id)?.name || id;
const noRoute = (err) => err.status === 404 && /^no route/.test(err.message);
const can = (action) => Boolean(state.caps && state.caps.actions[action]?.allowed);
/** The server's reason, as a sentence. */
const why = (action) => {
  const r = (state.caps && state.caps.actions[action]?.reason) || 'not allowed';
  return `${r.charAt(0).toUpperCase()}${r.slice(1)}.`;
};
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function notFoundPage() {
  page(
    'Page not found',
    emptyState(
      'There is nothing at this address',
      'The link may be mistyped, or the page may have moved.',
      h('a', { class: 'button primary', href: '/', 'data-link': true }, 'Go to your organization'),
    ),
  );
}

function orgNotFoundPage(orgId) {
  page(
    'Organization not found',
    emptyState(
      'This organization does not exist, or you are not a member',
      `No organization “${orgId}” is visible to ${state.session.user.email}. Pick one of yours in the switcher, or ask an admin to invite you.`,
      h(
        'div',
        { class: 'row center' },
        state.orgs[0]
          ? h(
              'a',
              { class: 'button primary', href: `/orgs/${enc(state.orgs[0].id)}/settings`, 'data-link': true },
              `Open ${state.orgs[0].name}`,
            )
          : null,
        h('a', { class: 'button', href: '/orgs/new', 'data-link': true }, 'Create an organization'),
      ),
    ),
  );
}

// ---------- Organization settings ----------

function settingsPage(orgId, tab) {
  const shown = SETTINGS_TABS.filter(([, , action]) => !action || can(action));
  if (!shown.some(([id]) => id === tab)) return notFoundPage();
  const tabs = h(
    'nav',
    { class: 'tabs', 'aria-label': 'Settings sections' },
    shown.map(([id, label]) =>
      h(
        'a',
        {
          href: `/orgs/${enc(orgId)}/settings${id === 'general' ? '' : `/${id}`}`,
          'data-link': true,
          id: `tab-${id}`,
          'aria-current': id === tab ? 'page' : undefined,
        },
        label,
      ),
    ),
  );
  const role = state.caps.role;
  const head = h(
    'p',
    { class: 'hint', id: 'viewer-role' },
    role ? `You are ${role === 'admin' ? 'an' : 'a'} ${role} of ${orgName(orgId)}.` : '',
  );
  const views = {
    general: () => {
      const s = section('General information', 'general');
      loadInto(s.body, 'the organization', () => generalInfo(orgId));
      return s.el;
    },
    members: () => {
      const s = section('Members', 'members');
      if (can('member:list')) loadInto(s.body, 'members', () => membersView(orgId, s.body));
      else s.body.replaceChildren(h('p', { class: 'hint', id: 'members-hidden' }, why('member:list')));
      return s.el;
    },
    invitations: () => {
      const s = section('Invitations', 'invitations');
      invitationsView(orgId, s.body);
      return s.el;
    },
    'api-keys': () => {
      const s = section('API keys', 'api-keys');
      orgKeysView(orgId, s.body);
      return s.el;
    },
    audit: () => {
      const s = section('Audit log', 'audit');
      auditView(orgId, s.body);
      return s.el;
    },
  };
  page('Organization settings', head, tabs, views[tab]());
}

async function generalInfo(orgId) {
  const org = await api('GET', `/organizations/${enc(orgId)}`);
  const status = h('span', { role: 'status', class: 'success', id: 'copy-status' });
  const p = state.caps.projects;
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
    h('dd', { id: 'org-plan' }, org.plan),
    h('dt', {}, 'Projects'),
    h('dd', {}, usage(p, org.plan)),
    h('dt', {}, 'Your role'),
    h(
      'dd',
      {},
      state.caps.role || '—',
      state.caps.role ? h('p', { class: 'hint' }, ROLE_TEXT[state.caps.role] || '') : null,
    ),
    h('dt', {}, 'Created'),
    h('dd', {}, time(org.created_at)),
  );
}

function usage(p, plan) {
  const pct = Math.min(100, Math.round((p.count / Math.max(1, p.limit)) * 100));
  const bar = h('span', {});
  bar.style.width = `${pct}%`; // CSSOM, not a style attribute: the CSP allows no inline styles
  return h(
    'div',
    { class: 'usage' },
    h('span', { class: 'project-usage' }, `${p.count} of ${p.limit} projects on the ${plan} plan`),
    h('div', { class: `meter${p.count >= p.limit ? ' full' : ''}`, 'aria-hidden': 'true' }, bar),
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

function roleOptions(selected) {
  return (state.caps.roles || ['admin', 'member']).map((r) =>
    h('option', { value: r, selected: r === selected }, r),
  );
}

async function membersView(orgId, container) {
  const members = await allMembers(orgId);
  const me = state.session.user.id;
  const canUpdate = can('member:update');
  const canRemove = can('member:remove');
  const errors = h('div', { id: 'members-error' });
  const reload = () => loadInto(container, 'members', () => membersView(orgId, container));

  const rows = members.map(({ member, user }) => {
    const self = member.user_id === me;
    const actions = [];
    let roleCell = h('span', { class: `badge ${member.role}` }, member.role);
    if (canUpdate) {
      // The select IS the role shown: no separate badge that could disagree with it.
      const selectId = `role-${member.id}`;
      const save = h(
        'button',
        {
          type: 'button',
          class: 'small',
          disabled: true,
          'aria-label': `Change role of ${user.email}`,
          onclick: async (e) => {
            const role = select.value;
            const ok = await act(
              e.currentTarget,
              errors,
              () => api('PATCH', `/organizations/${enc(orgId)}/members/${enc(member.id)}`, { role }),
              'Saving…',
              'role',
            );
            if (ok) {
              toast(`${user.email} is now ${role === 'admin' ? 'an' : 'a'} ${role}.`);
              if (self) state.caps = await api('GET', `/organizations/${enc(orgId)}/capabilities`);
              reload();
            } else {
              select.value = member.role; // refused: show the role that still holds
              save.disabled = true;
            }
          },
        },
        'Change role',
      );
      const select = h(
        'select',
        { id: selectId, onchange: () => (save.disabled = select.value === member.role) },
        roleOptions(member.role),
      );
      roleCell = h(
        'span',
        { class: 'row' },
        h('label', { for: selectId, class: 'visually-hidden' }, `Role of ${user.email}`),
        select,
        save,
      );
    }
    if (!self && canRemove) {
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            'aria-label': `Remove ${user.email}`,
            onclick: async (e) => {
              const yes = await confirmDialog({
                title: `Remove ${user.email}?`,
                message: `${user.email} loses access to the organization and its projects at once.`,
                confirmLabel: 'Remove member',
              });
              if (!yes) return;
              const ok = await act(
                e.currentTarget,
                errors,
                () => api('DELETE', `/organizations/${enc(orgId)}/members/${enc(member.id)}`),
                null,
                'remove',
              );
              if (ok === undefined) return;
              toast(`${user.email} was removed from the organization.`);
              reload();
            },
          },
          'Remove',
        ),
      );
    }
    if (self) {
      const allowed = can('member:leave');
      actions.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            'aria-label': 'Leave the organization',
            disabled: !allowed,
            'aria-describedby': allowed ? undefined : 'leave-reason',
            onclick: async (e) => {
              const yes = await confirmDialog({
                title: 'Leave the organization?',
                message: 'You will lose access to this organization and its projects.',
                confirmLabel: 'Leave',
              });
              if (!yes) return;
              const ok = await act(
                e.currentTarget,
                errors,
                () => api('DELETE', `/organizations/${enc(orgId)}/members/${enc(member.id)}`),
                null,
                'leave',
              );
              if (ok === undefined) return;
              toast(`You left ${orgName(orgId)}.`);
              await refreshOrgs();
              navigate('/');
            },
          },
          'Leave',
        ),
        allowed ? null : h('span', { class: 'hint', id: 'leave-reason' }, why('member:leave')),
      );
    }
    return [
      h('span', {}, user.email, self ? h('span', { class: 'badge' }, 'you') : null),
      roleCell,
      member.joined_at ? time(member.joined_at) : '',
      actions.length ? h('div', { class: 'row' }, actions) : '—',
    ];
  });
  return [
    canUpdate ? null : h('p', { class: 'hint', id: 'members-hint' }, why('member:update')),
    errors,
    table('Members', ['Email', 'Role', 'Joined', 'Actions'], rows),
    h(
      'details',
      { id: 'roles-help' },
      h('summary', {}, 'What each role may do'),
      h(
        'ul',
        {},
        (state.caps.roles || []).map((r) => h('li', {}, ROLE_TEXT[r] || r)),
      ),
    ),
  ];
}

function invitationsView(orgId, container) {
  const errors = h('div', { id: 'invite-error' });
  const list = h('div', { id: 'invitations-list' });
  const reload = () => loadInto(list, 'invitations', () => invitationsList(orgId, list, errors));
  if (!can('invitation:create')) {
    container.replaceChildren(
      h(
        'div',
        { class: 'notice info', id: 'invite-not-allowed' },
        h('p', {}, `${why('invitation:create')} Ask an admin to invite people.`),
      ),
      errors,
      list,
    );
    reload();
    return;
  }
  const roleHint = h('p', { class: 'hint', id: 'invite-role-hint' });
  const roleSelect = h(
    'select',
    { id: 'invite-role', name: 'role', 'aria-describedby': 'invite-role-hint' },
    roleOptions('member'),
  );
  const showRole = () => (roleHint.textContent = ROLE_TEXT[roleSelect.value] || '');
  roleSelect.addEventListener('change', showRole);
  showRole();
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
        placeholder: 'dana@example.com, eli@example.com',
      }),
      h(
        'p',
        { class: 'hint', id: 'invite-hint' },
        'One or several, separated by commas, spaces or new lines.',
      ),
    ),
    h('div', {}, h('label', { for: 'invite-role' }, 'Role'), roleSelect, roleHint),
    errors,
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Send invitations')),
  );
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
      'invite',
    );
    if (!res) return;
    form.emails.value = '';
    const joined = (res.invitations || []).filter((i) => i.status === 'accepted').length;
    toast(
      `${plural(emails.length, 'invitation')} sent${joined ? ` (${joined} already had an account and joined at once)` : ''}.`,
    );
    reload();
  });
  container.replaceChildren(form, list);
  reload();
}

async function invitationsList(orgId, container, errors) {
  if (!can('invitation:list'))
    return h('p', { class: 'hint', id: 'invitations-hidden' }, why('invitation:list'));
  let res;
  try {
    res = await api('GET', `/organizations/${enc(orgId)}/invitations`);
  } catch (err) {
    if (noRoute(err)) return h('p', { class: 'hint' }, 'This server does not support invitations yet.');
    throw err;
  }
  const all = res.invitations || [];
  const status = (inv) => inv.status || 'pending';
  const pending = all.filter((i) => status(i) === 'pending' || status(i) === 'expired');
  const accepted = all.filter((i) => status(i) === 'accepted');
  const reload = () => loadInto(container, 'invitations', () => invitationsList(orgId, container, errors));
  const base = (inv) => `/organizations/${enc(orgId)}/invitations/${enc(inv.id)}`;
  const canResend = can('invitation:resend');
  const canRevoke = can('invitation:revoke');
  const actionsFor = (inv) => {
    const buttons = [];
    if (canResend)
      buttons.push(
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
                'resend',
              );
              if (ok !== undefined) {
                toast(`Invitation to ${inv.email} sent again, with a new link.`);
                reload();
              }
            },
          },
          'Resend',
        ),
      );
    if (canRevoke)
      buttons.push(
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
              const ok = await act(e.currentTarget, errors, () => api('DELETE', base(inv)), null, 'revoke');
              if (ok !== undefined) {
                toast(`Invitation to ${inv.email} revoked.`);
                reload();
              }
            },
          },
          'Revoke',
        ),
      );
    return buttons.length ? h('div', { class: 'row' }, buttons) : '—';
  };
  const out = [h('h3', {}, 'Pending invitations')];
  if (pending.length === 0) {
    out.push(
      h(
        'p',
        { class: 'hint', id: 'no-pending' },
        can('invitation:create')
          ? 'No pending invitations. Invite people with the form above.'
          : 'No pending invitations.',
      ),
    );
  } else {
    out.push(
      table(
        'Pending invitations',
        ['Email', 'Role', 'Invited', 'Expires', 'Status', 'Actions'],
        pending.map((inv) => [
          inv.email,
          h('span', { class: `badge ${inv.role}` }, inv.role),
          time(inv.invited_at),
          inv.expires_at ? time(inv.expires_at) : '—',
          h('span', { class: `badge${status(inv) === 'expired' ? ' warn' : ''}` }, status(inv)),
          actionsFor(inv),
        ]),
      ),
    );
  }
  if (accepted.length) {
    out.push(
      h(
        'details',
        { id: 'accepted-invitations' },
        h('summary', {}, `Accepted invitations (${accepted.length})`),
        table(
          'Accepted invitations',
          ['Email', 'Role', 'Accepted'],
          accepted.map((inv) => [inv.email, inv.role, time(inv.accepted_at || inv.invited_at)]),
        ),
      ),
    );
  }
  return out;
}

/** The organization's projects (recoverable=true: the deleted ones), or null without a projects endpoint. */
async function projectsOf(orgId, { recoverable = false } = {}) {
  try {
    const res = await api(
      'GET',
      `/projects?org_id=${enc(orgId)}&limit=400${recoverable ? '&recoverable=true' : ''}`,
    );
    return res.projects || [];
  } catch (err) {
    if (noRoute(err)) return null;
    throw err;
  }
}

const DAY = 86_400_000;

/** Key expiry (when the server reports it): the date, with a warning within 7 days. */
function expiryCell(k) {
  if (!k.expires_at) return h('span', { class: 'hint' }, 'never');
  const left = Date.parse(k.expires_at) - Date.now();
  if (left <= 0) return h('span', { class: 'badge danger' }, 'expired');
  return h(
    'span',
    {},
    time(k.expires_at),
    left < 7 * DAY
      ? h(
          'span',
          { class: 'badge warn', title: 'Expires within 7 days' },
          `expires in ${Math.ceil(left / DAY)} d`,
        )
      : null,
  );
}

function keyList(keys, { caption, onRevoke, canRevoke, withScope, emptyText, extraActions = () => [] }) {
  if (keys.length === 0) return emptyState('No API keys yet', emptyText);
  const withExpiry = keys.some((k) => 'expires_at' in k);
  const headers = ['Name'];
  if (withScope) headers.push('Scope');
  headers.push('Created', 'Created by', 'Last used', 'Last used from');
  if (withExpiry) headers.push('Expires');
  headers.push('Actions');
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
      );
      if (withExpiry) cells.push(expiryCell(k));
      const buttons = [
        ...extraActions(k),
        canRevoke(k)
          ? h(
              'button',
              {
                type: 'button',
                class: 'small danger',
                'aria-label': `Revoke API key ${k.name}`,
                onclick: (e) => onRevoke(k, e.currentTarget),
              },
              'Revoke',
            )
          : null,
      ].filter(Boolean);
      cells.push(buttons.length ? h('div', { class: 'row' }, buttons) : '—');
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
  const ok = await act(button, errors, () => api('DELETE', path), null, 'key-revoke');
  if (ok) {
    toast(`API key ${k.name} revoked.`);
    reload();
  }
}

function orgKeysView(orgId, container) {
  const errors = h('div', { id: 'keys-error' });
  const list = h('div', { id: 'org-keys-list' });
  const orgKeys = can('org_api_key:create');
  const projectKeys = can('project_api_key:create');
  const me = state.session.user.id;
  let rotatable = false;
  const reload = () =>
    loadInto(list, 'API keys', async () => {
      if (!can('org_api_key:list'))
        return h('p', { class: 'hint', id: 'keys-hidden' }, why('org_api_key:list'));
      rotatable = await hasOperation('/organizations/{org_id}/api_keys/{key_id}/rotate');
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
          rotatable &&
          (k.project_id
            ? can('org_api_key:revoke') ||
              (can('project_api_key:create') && k.created_by && k.created_by.id === me)
            : can('org_api_key:create'))
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
    const body = projectId ? { key_name: name, project_id: projectId } : { key_name: name };
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

/** Whether the server serves a path (its OpenAPI document), for features landing separately. */
let openapiPaths = null;
async function hasOperation(path) {
  if (!openapiPaths) {
    openapiPaths = api('GET', '/openapi.json').then(
      (doc) => new Set(Object.keys((doc && doc.paths) || {})),
      () => new Set(),
    );
  }
  return (await openapiPaths).has(path);
}

const OVERLAPS = [
  [0, 'No overlap: the old key stops at once'],
  [3600, 'One hour'],
  [86400, 'One day'],
  [604800, 'Seven days'],
];

function rotateButton(k, path, errors, reload) {
  return h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-label': `Rotate API key ${k.name}`,
      onclick: async (e) => {
        const select = h(
          'select',
          { id: 'rotate-overlap' },
          OVERLAPS.map(([v, label]) => h('option', { value: String(v) }, label)),
        );
        const yes = await confirmDialog({
          title: `Rotate API key “${k.name}”?`,
          message:
            'A new key with the same name and scope replaces it. Choose how long the old key keeps working, so you can switch over.',
          confirmLabel: 'Rotate key',
          danger: false,
          extra: h(
            'div',
            { class: 'field' },
            h('label', { for: 'rotate-overlap' }, 'Old key keeps working for'),
            select,
          ),
        });
        if (!yes) return;
        const overlap = Number(select.value);
        const created = await act(
          e.currentTarget,
          errors,
          () => api('POST', path, { overlap_seconds: overlap }),
          null,
          'rotate',
        );
        if (!created) return;
        tokenDialog(created.key, created.name);
        toast(
          overlap
            ? `Key ${k.name} rotated; the old key keeps working until ${new Date(Date.now() + overlap * 1000).toLocaleString()}.`
            : `Key ${k.name} rotated; the old key no longer works.`,
        );
        reload();
      },
    },
    'Rotate',
  );
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
      'aria-label': `What can API key ${k.name} do?`,
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

function actorText(a) {
  if (!a) return '';
  if (a.type === 'user') return a.email || a.id;
  if (a.type === 'api_key') return `${a.kind === 'project' ? 'Project' : 'Organization'} key ${a.id}`;
  return 'operator (CLI)';
}

function auditView(orgId, container) {
  const list = h('div', { id: 'audit-list' });
  const field = (id, label, attrs = {}) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: id }, label),
      h('input', { id, name: id, autocomplete: 'off', ...attrs }),
    );
  const form = h(
    'form',
    { class: 'inline', id: 'audit-filters', novalidate: true },
    field('audit-action', 'Action', { placeholder: 'member.role_changed' }),
    field('audit-actor', 'Actor', { placeholder: 'email, user or key id' }),
    field('audit-since', 'Since', { type: 'date' }),
    field('audit-until', 'Until', { type: 'date' }),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  const query = () => {
    const q = new URLSearchParams({ limit: '50' });
    const v = (id) => form.querySelector(`#${id}`).value.trim();
    if (v('audit-action')) q.set('action', v('audit-action'));
    if (v('audit-actor')) q.set('actor', v('audit-actor'));
    if (v('audit-since')) q.set('since', new Date(`${v('audit-since')}T00:00:00`).toISOString());
    if (v('audit-until')) q.set('until', new Date(`${v('audit-until')}T23:59:59`).toISOString());
    return q;
  };
  const rowsOf = (events) =>
    events.map((e) => [
      time(e.at),
      actorText(e.actor),
      h('code', {}, e.action),
      e.target ? `${e.target.type}${e.target.id ? ` ${e.target.id}` : ''}` : '',
      h(
        'span',
        { class: `badge${e.outcome === 'denied' ? ' danger' : ''}` },
        e.outcome === 'denied' ? `refused (${e.status})` : 'done',
      ),
    ]);
  const load = () =>
    loadInto(list, 'the audit log', async () => {
      const res = await api('GET', `/organizations/${enc(orgId)}/audit_log?${query()}`);
      const events = res.events || [];
      if (events.length === 0)
        return h('p', { class: 'hint', id: 'audit-empty' }, 'No events match these filters.');
      const t = table('Audit events', ['When', 'Who', 'Action', 'Target', 'Outcome'], rowsOf(events));
      const out = [t];
      let next = res.pagination && res.pagination.next;
      if (next) {
        const more = h('button', { type: 'button', id: 'audit-more' }, 'Load older events');
        more.addEventListener('click', async () => {
          const q = query();
          q.set('cursor', next);
          const page2 = await act(more, null, () =>
            api('GET', `/organizations/${enc(orgId)}/audit_log?${q}`),
          );
          if (!page2) return;
          const tbody = t.querySelector('tbody');
          const extra = table('', ['When', 'Who', 'Action', 'Target', 'Outcome'], rowsOf(page2.events || []));
          tbody.append(...extra.querySelectorAll('tbody tr'));
          next = page2.pagination && page2.pagination.next;
          if (!next) more.remove();
        });
        out.push(h('div', { class: 'row spaced' }, more));
      }
      return out;
    });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  container.replaceChildren(
    h('p', { class: 'hint' }, 'Every change and every refused attempt in this organization, newest first.'),
    form,
    list,
  );
  load();
}

// ---------- Projects and transfers ----------

function projectsPage(orgId) {
  const caps = state.caps;
  const p = caps.projects;
  const atLimit = p.count >= p.limit;
  const listSection = section('Projects', 'projects');
  const deletedSection = section('Recently deleted', 'deleted-projects');
  const createSection = section('New project', 'new-project');
  const transfer = section('Transfer projects to another organization', 'transfer');
  const errors = h('div', { id: 'projects-error' });
  page(
    `Projects of ${orgName(orgId)}`,
    h(
      'div',
      { class: 'card', id: 'plan-usage' },
      usage(p, caps.plan),
      atLimit
        ? h(
            'p',
            { class: 'hint' },
            'The plan allows no more projects: delete one, or ask an operator to upgrade the plan (npx orgplane orgs set-plan).',
          )
        : null,
    ),
    can('project:create') ? createSection.el : null,
    listSection.el,
    deletedSection.el,
    can('project:transfer_out') ? transfer.el : null,
  );
  const selected = new Set();
  const result = h('div', { id: 'transfer-result', 'aria-live': 'polite' });
  const refreshCaps = async () => {
    state.caps = await api('GET', `/organizations/${enc(orgId)}/capabilities`);
  };
  const reloadAll = async () => {
    await refreshCaps();
    projectsPage(orgId);
  };

  // Create
  const regionId = 'new-project-region';
  const createForm = h(
    'form',
    { class: 'inline', id: 'new-project-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'new-project-name' }, 'Project name'),
      h('input', {
        id: 'new-project-name',
        name: 'name',
        maxlength: '64',
        autocomplete: 'off',
        disabled: atLimit,
      }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: regionId }, 'Region'),
      h(
        'select',
        { id: regionId, name: 'region', disabled: atLimit },
        caps.regions.ids.map((r) => h('option', { value: r, selected: r === caps.regions.default }, r)),
      ),
    ),
    h(
      'button',
      {
        type: 'submit',
        class: 'primary',
        disabled: atLimit,
        'aria-describedby': atLimit ? 'limit-reason' : undefined,
      },
      'Create project',
    ),
  );
  const createErrors = h('div', { id: 'new-project-error' });
  createSection.body.replaceChildren(
    createForm,
    atLimit
      ? h(
          'p',
          { class: 'hint', id: 'limit-reason' },
          `All ${p.limit} projects of the ${caps.plan} plan are in use.`,
        )
      : h(
          'p',
          { class: 'hint' },
          `${p.limit - p.count} more project${p.limit - p.count === 1 ? '' : 's'} allowed on the ${caps.plan} plan.`,
        ),
    createErrors,
  );
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = createForm.name.value.trim();
    const body = {
      project: { org_id: orgId, region_id: createForm.region.value, ...(name ? { name } : {}) },
    };
    const created = await act(
      createForm.querySelector('button[type=submit]'),
      createErrors,
      () => api('POST', '/projects', body),
      'Creating…',
      'project-create',
    );
    if (!created) return;
    toast(`Project ${created.project.name} created in ${created.project.region_id}.`);
    await reloadAll();
  });

  // List
  const renderList = async () => {
    selected.clear();
    result.replaceChildren();
    await loadInto(listSection.body, 'projects', async () => {
      const projects = await projectsOf(orgId);
      if (projects === null) return h('p', { class: 'hint' }, 'This server does not list projects yet.');
      if (projects.length === 0) {
        return emptyState(
          'No projects yet',
          can('project:create')
            ? 'Create the first project of this organization with the form above: give it a name and pick a region.'
            : 'Projects of this organization will appear here.',
        );
      }
      const transferable = can('project:transfer_out');
      const headers = [...(transferable ? ['Select'] : []), 'Name', 'ID', 'Region', 'Created', 'Actions'];
      return [
        errors,
        table(
          'Projects',
          headers,
          projects.map((pr) => [
            ...(transferable
              ? [
                  h(
                    'span',
                    {},
                    h('input', {
                      type: 'checkbox',
                      id: `sel-${pr.id}`,
                      value: pr.id,
                      onchange: (ev) => (ev.target.checked ? selected.add(pr.id) : selected.delete(pr.id)),
                    }),
                    h('label', { for: `sel-${pr.id}`, class: 'visually-hidden' }, `Select ${pr.name}`),
                  ),
                ]
              : []),
            h('span', { class: 'project-name' }, pr.name),
            h('code', {}, pr.id),
            pr.region_id,
            time(pr.created_at),
            projectActions(pr),
          ]),
        ),
      ];
    });
  };
  const projectActions = (pr) => {
    const buttons = [];
    if (can('project:update'))
      buttons.push(
        h(
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
              renderList();
            },
          },
          'Rename',
        ),
      );
    // Sharing is offered where the server's policy has it and lets this viewer see who has access.
    if (can('project_permission:list'))
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            'aria-label': `Share project ${pr.name}`,
            onclick: () => sharingDialog(pr),
          },
          'Share',
        ),
      );
    if (can('project:delete'))
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            'aria-label': `Delete project ${pr.name}`,
            onclick: async (e) => {
              const days = caps.projects.recovery_window_days;
              const yes = await confirmDialog({
                title: `Delete project “${pr.name}”?`,
                message: `The project stops answering at once. For ${days} days an admin can recover it from “Recently deleted” on this page; after that it is gone for good.`,
                confirmLabel: 'Delete project',
              });
              if (!yes) return;
              const ok = await act(
                e.currentTarget,
                errors,
                () => api('DELETE', `/projects/${enc(pr.id)}`),
                null,
                'project-delete',
              );
              if (ok === undefined) return;
              toast(`Project ${pr.name} deleted. You can recover it for ${days} days.`);
              await reloadAll();
            },
          },
          'Delete',
        ),
      );
    return buttons.length ? h('div', { class: 'row' }, buttons) : '—';
  };

  // Recently deleted (recoverable)
  loadInto(deletedSection.body, 'deleted projects', async () => {
    const deleted = await projectsOf(orgId, { recoverable: true });
    if (!deleted || deleted.length === 0)
      return h(
        'p',
        { class: 'hint', id: 'no-deleted' },
        `Deleted projects can be recovered here for ${caps.projects.recovery_window_days} days. There are none.`,
      );
    return table(
      'Recently deleted projects',
      ['Name', 'ID', 'Deleted', 'Recoverable until', 'Actions'],
      deleted.map((pr) => [
        pr.name,
        h('code', {}, pr.id),
        time(pr.deleted_at),
        time(pr.recoverable_until),
        can('project:recover')
          ? h(
              'button',
              {
                type: 'button',
                class: 'small',
                'aria-label': `Recover project ${pr.name}`,
                disabled: atLimit,
                title: atLimit ? 'The plan allows no more projects' : undefined,
                onclick: async (e) => {
                  const ok = await act(
                    e.currentTarget,
                    errors,
                    () => api('POST', `/projects/${enc(pr.id)}/recover`),
                    null,
                    'project-recover',
                  );
                  if (ok === undefined) return;
                  toast(`Project ${pr.name} recovered.`);
                  await reloadAll();
                },
              },
              'Recover',
            )
          : h('span', { class: 'hint' }, why('project:recover')),
      ]),
    );
  });

  // Transfer
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
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      previewTransfer(orgId, [...selected], form, result, reloadAll);
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
  renderList();
}

async function previewTransfer(orgId, ids, form, result, reloadAll) {
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
    // The dry run answers a report (`would_succeed`, `limits`, `integrations`, `api_keys_revoked`);
    // a server may also answer 406/422 directly, handled below.
    const report = (await api('POST', `${path}?dry_run=true`, body)) || {};
    if (report.would_succeed === false) {
      result.replaceChildren(
        h(
          'div',
          { class: 'error', role: 'alert' },
          h('p', {}, 'Dry run: this transfer would be refused. Nothing has changed.'),
          report.limits && report.limits.length ? limitsView(report.limits) : null,
          report.integrations && report.integrations.length ? integrationsView(report.integrations) : null,
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
          ev.currentTarget.disabled = true;
          try {
            await api('POST', path, body);
            toast(`Moved ${plural(ids.length, 'project')} to ${orgName(dest)}.`);
            await reloadAll();
            document
              .getElementById('transfer-result')
              ?.replaceChildren(
                h(
                  'div',
                  { class: 'notice success', role: 'status' },
                  h('p', {}, `Moved ${plural(ids.length, 'project')} to ${orgName(dest)}.`),
                ),
              );
          } catch (err) {
            result.replaceChildren(transferError(err));
          }
        },
      },
      `Transfer ${plural(ids.length, 'project')}`,
    );
    result.replaceChildren(
      h(
        'div',
        { class: 'warning' },
        h(
          'p',
          {},
          `Dry run: ${plural(ids.length, 'project')} can move from ${orgName(orgId)} to ${orgName(dest)}. Nothing has changed yet.`,
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
}

function limitsView(limits) {
  const words = (l) =>
    l.name === 'projects_count'
      ? `The destination's plan allows ${l.expected} projects; it would have ${l.actual}.`
      : l.name === 'subscription_type'
        ? `Projects may only move to an organization on the same or a higher plan (this one is ${l.expected}, the destination is ${l.actual}).`
        : `${l.name}: expected ${l.expected}, the destination has ${l.actual}.`;
  return h(
    'div',
    {},
    h('p', {}, "The destination organization's plan does not allow this transfer:"),
    h(
      'ul',
      {},
      limits.map((l) => h('li', {}, words(l))),
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

/** 406 (plan limits) and 422 (integrations) explained in plain words; anything else mapped. */
function transferError(err) {
  const b = err.body || {};
  if (err.status === 406 && Array.isArray(b.limits)) {
    return h('div', { class: 'error', role: 'alert' }, limitsView(b.limits));
  }
  if (err.status === 422 && Array.isArray(b.projects)) {
    return h('div', { class: 'error', role: 'alert' }, integrationsView(b.projects));
  }
  return errorBox(err, 'transfer');
}

// ---------- Project sharing ----------

/** Who else may use a project: grant by email, list, revoke (GET/POST/DELETE /projects/{id}/permissions). */
function sharingDialog(project) {
  const opener = document.activeElement;
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
          !can('project_permission:revoke')
            ? '—'
            : h(
                'button',
                {
                  type: 'button',
                  class: 'small danger',
                  'aria-label': `Stop sharing with ${g.granted_to_email}`,
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
      errors.replaceChildren(errorBox('Enter the email address of a person with an account.'));
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
      'People you share with can use this project without being members of the organization. They need an account.',
    ),
    can('project_permission:grant') ? form : h('p', { class: 'hint' }, why('project_permission:grant')),
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

function claimPage(_orgId, _tab, r) {
  const q = new URLSearchParams(window.location.search);
  const projectId = q.get('p') || q.get('project_id') || '';
  const requestId = r.requestId || q.get('tr') || '';
  const next = q.get('ru');
  if (!projectId || !requestId) {
    page(
      'Claim a project',
      emptyState(
        'This claim link is incomplete',
        'Open the whole link you received; it names the project and the transfer request.',
      ),
    );
    return;
  }
  const errors = h('div', { id: 'claim-error' });
  const result = h('div', { id: 'claim-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'stack', id: 'claim-form', novalidate: true },
    h(
      'p',
      {},
      'The project ',
      h('code', {}, projectId),
      ' is offered to you. Accepting moves it, with its data and connection strings, into the organization you choose; the sender loses access.',
    ),
    state.orgs.length
      ? h(
          'div',
          {},
          h('label', { for: 'claim-org' }, 'Move it into'),
          h(
            'select',
            { id: 'claim-org', name: 'org' },
            state.orgs.map((o) => h('option', { value: o.id }, o.name)),
          ),
        )
      : h(
          'p',
          { class: 'hint' },
          'You belong to no organization: the project becomes one of your personal projects.',
        ),
    errors,
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Accept the transfer')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const orgId = form.org ? form.org.value : undefined;
    const path = `/projects/${enc(projectId)}/transfer_requests/${enc(requestId)}`;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    errors.replaceChildren();
    try {
      await api('PUT', path, orgId ? { org_id: orgId } : {});
    } catch (err) {
      button.disabled = false;
      const b = err.body || {};
      if (err.status === 406 && Array.isArray(b.reasons)) {
        errors.replaceChildren(
          h(
            'div',
            { class: 'error', role: 'alert' },
            h('p', {}, "The organization's plan cannot own this project:"),
            h(
              'ul',
              {},
              b.reasons.map((r) => h('li', {}, r.message || r.code)),
            ),
          ),
        );
      } else if (noRoute(err)) {
        errors.replaceChildren(errorBox('This server does not accept project transfer requests yet.'));
      } else if (err.status === 404) {
        errors.replaceChildren(errorBox(err, 'claim'));
        errors.querySelector('p').textContent =
          'This transfer request is unknown or has expired. Ask the sender for a new link.';
      } else if (err.status === 410) {
        errors.replaceChildren(errorBox(err, 'claim'));
        errors.querySelector('p').textContent =
          'This transfer request has expired. Ask the sender for a new link.';
      } else if (err.status === 400 && /already/.test(err.message)) {
        errors.replaceChildren(errorBox(err, 'claim'));
        errors.querySelector('p').textContent =
          'The project is already in that organization. Choose another one.';
      } else if (err.status === 409) {
        errors.replaceChildren(errorBox(err, 'claim'));
        errors.querySelector('p').textContent =
          'This transfer request was already used, or the project has moved since. Each link works once.';
      } else {
        errors.replaceChildren(errorBox(err, 'claim'));
      }
      return;
    }
    await refreshOrgs();
    toast('Project transferred to you.');
    if (next && safeNext(next) === next) return navigate(next);
    form.replaceWith(
      h(
        'div',
        { class: 'notice success', role: 'status' },
        h('p', {}, 'The project is yours now.'),
        orgId
          ? h(
              'a',
              { class: 'button primary', href: `/orgs/${enc(orgId)}/projects`, 'data-link': true },
              'Open the projects',
            )
          : null,
      ),
    );
  });
  page('Claim a project', h('div', { class: 'card' }, form, result));
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
  let rotatable = false;
  const reload = () =>
    loadInto(list, 'API keys', async () =>
      keyList(
        await api('GET', '/api_keys').then(
          async (keys) => ((rotatable = await hasOperation('/api_keys/{key_id}/rotate')), keys),
        ),
        {
          caption: 'Personal API keys',
          withScope: false,
          emptyText: 'Create a key above to use the API, the SDK or neonctl as yourself.',
          canRevoke: () => true,
          onRevoke: (k, b) => revokeFlow(k, b, errors, `/api_keys/${k.id}`, reload),
          extraActions: (k) => [
            rotatable ? rotateButton(k, `/api_keys/${k.id}/rotate`, errors, reload) : null,
          ],
        },
      ),
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
      () => api('POST', '/api_keys', { key_name: name }),
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

boot();
