// Organization settings: the tab bar and the General tab.
import { api } from '../api.js';
import { act, copyText, h, loadInto, promptDialog, time, toast } from '../ui.js';
import {
  ROLE_TEXT,
  can,
  enc,
  navigate,
  orgName,
  page,
  refreshOrgs,
  section,
  state,
  usage,
  why,
  withArticle,
} from '../context.js';
import { notFoundPage } from './not-found.js';
import { membersView } from './members.js';
import { invitationsView } from './invitations.js';
import { orgKeysView } from './api-keys.js';
import { auditView } from './audit.js';

/** [id, label, actions]: a tab is offered when the viewer may do one of its actions. */
export const SETTINGS_TABS = [
  ['general', 'General', ['organization:read']],
  ['members', 'Members', ['member:list']],
  ['invitations', 'Invitations', ['invitation:list', 'invitation:create']],
  ['api-keys', 'API keys', ['org_api_key:list', 'project_api_key:create']],
  ['audit', 'Audit log', ['audit_log:read']],
];

export function settingsPage(orgId, tab) {
  const entry = SETTINGS_TABS.find(([id]) => id === tab);
  if (!entry) return notFoundPage();
  if (!can('organization:read')) {
    // Collaborators reach only the projects shared with them: say so, and where those are.
    return page(
      'Organization settings',
      h(
        'div',
        { class: 'notice info', id: 'settings-not-allowed' },
        h('p', {}, why('organization:read')),
        h('a', { class: 'button primary', href: '/shared', 'data-link': true }, 'Projects shared with you'),
      ),
    );
  }
  const shown = SETTINGS_TABS.filter(([, , actions]) => actions.some((a) => can(a)));
  if (!shown.some(([id]) => id === tab)) {
    // A tab this viewer may not use, reached by its address: one clear page that says who may.
    return page(
      'Organization settings',
      h(
        'section',
        { class: 'card', id: `${tab}-not-allowed`, 'aria-labelledby': 'h-not-allowed' },
        h(
          'h2',
          { id: 'h-not-allowed' },
          `${entry[1]}: ${tab === 'audit' ? 'admins only' : 'not available to you'}`,
        ),
        h('p', {}, why(entry[2][0])),
        h(
          'a',
          { class: 'button', href: `/orgs/${enc(orgId)}/settings`, 'data-link': true },
          'Back to the organization settings',
        ),
      ),
    );
  }
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
    role ? `You are ${withArticle(role)} of ${orgName(orgId)}.` : '',
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

/** Admins rename the organization (PATCH /organizations/{id}, audited as organization.updated). */
async function renameOrg(org) {
  const name = await promptDialog({
    title: `Rename the organization “${org.name}”`,
    label: 'New name',
    value: org.name,
    maxlength: 256,
    confirmLabel: 'Rename',
    submit: async (value, slot) =>
      (await act(
        null,
        slot,
        () => api('PATCH', `/organizations/${enc(org.id)}`, { name: value }),
        null,
        'org-rename',
      )) !== undefined,
  });
  if (name === null) return;
  await refreshOrgs();
  toast(`The organization is now called ${name}.`);
  navigate(window.location.pathname, { replace: true });
}

async function generalInfo(orgId) {
  const org = await api('GET', `/organizations/${enc(orgId)}`);
  const status = h('span', { role: 'status', class: 'success', id: 'copy-status' });
  const p = state.caps.projects;
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Name'),
    h(
      'dd',
      {},
      h('span', { id: 'org-name' }, org.name),
      can('organization:update')
        ? [
            ' ',
            h(
              'button',
              {
                type: 'button',
                class: 'small',
                id: 'rename-org',
                'aria-label': 'Rename the organization',
                onclick: () => renameOrg(org),
              },
              'Rename',
            ),
          ]
        : null,
    ),
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
