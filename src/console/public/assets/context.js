// What every page shares: the session and organization state, navigation, page scaffolding and the
// capability checks (the server decides; the console reads GET /organizations/{id}/capabilities).
import { api } from './api.js';
import { humanMessage } from './messages.js';
import { h, toast } from './ui.js';

export const state = {
  session: null,
  orgs: [],
  orgId: null,
  caps: null,
  /** Whether projects are shared with the viewer (the "Shared with you" view is offered then). */
  hasShared: false,
  firstRender: true,
  seq: 0,
};
export const main = document.getElementById('main');
export const enc = encodeURIComponent;
/** One line per role: what each may do (the server says which roles the organization offers). */
export const ROLE_TEXT = {
  admin: 'Admin: everything, including members, invitations, organization keys and deleting projects.',
  member: 'Member: sees the organization; creates, renames and transfers in projects; no member management.',
  editor: 'Editor: creates and changes projects; no member or key management.',
  viewer: 'Viewer: read-only access to the organization and its projects.',
  collaborator: 'Collaborator: no organization access; only the projects shared with them.',
};

export async function refreshOrgs() {
  try {
    const res = await api('GET', '/users/me/organizations');
    state.orgs = res.organizations;
  } catch (err) {
    toast(`Could not load your organizations. ${humanMessage(err)}`);
  }
}

/** The shell registers its renderer here, so pages can navigate without importing the shell. */
let renderer = () => {};
export function setRenderer(fn) {
  renderer = fn;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  renderer();
}

export function page(title, ...children) {
  document.title = `${title} · orgplane`;
  fill(main, h('h1', { tabindex: '-1' }, title), ...children);
}

export function section(title, id, ...intro) {
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

export function emptyState(title, text, action) {
  return h('div', { class: 'empty-state' }, h('h3', {}, title), h('p', {}, text), action || null);
}

/** replaceChildren without the "null" text nodes it would make of skipped children. */
export const fill = (el, ...children) => el.replaceChildren(...children.flat().filter(Boolean));
export const orgName = (id) => state.orgs.find((o) => o.id === id)?.name || id;
export const noRoute = (err) => err.status === 404 && /^no route/.test(err.message);
export const can = (action) => Boolean(state.caps && state.caps.actions[action]?.allowed);
/** The server's reason, as a sentence. */
export const why = (action) => {
  const r = (state.caps && state.caps.actions[action]?.reason) || 'not allowed';
  return `${r.charAt(0).toUpperCase()}${r.slice(1)}.`;
};
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** "an admin", "a member", "an editor". */
export const withArticle = (word) => `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;

/** What the viewer may do on one project (GET /projects/{id}/capabilities), by action. */
export const projectCan = (pc, action) => Boolean(pc && pc.actions && pc.actions[action]?.allowed);
export const projectWhy = (pc, action) => {
  const r = (pc && pc.actions && pc.actions[action]?.reason) || 'not allowed';
  return `${r.charAt(0).toUpperCase()}${r.slice(1)}.`;
};

/**
 * A project's actions from Neon's effective_project_permission, which the server derives from the
 * same rules (CAN_MANAGE: may delete; CAN_EDIT: may change and share; CAN_VIEW: may read). Used for
 * lists, where asking the server per project would cost one request per row.
 */
export const levelAllows = (level, action) => {
  const rank = { CAN_VIEW: 1, CAN_EDIT: 2, CAN_MANAGE: 3 }[level] || 0;
  if (action === 'project:delete') return rank >= 3;
  if (action === 'project:update' || action === 'project_permission:list') return rank >= 2;
  return rank >= 1;
};

/** Whether mail leaves this server (SMTP configured), when the server said so; else undefined. */
export const smtpConfigured = () => state.caps?.mail?.smtp_configured;

/** The role's landing page: admins and members on Settings, viewers and editors on Projects. */
export function landingFor(orgId, caps) {
  const role = caps && caps.role;
  if (role === 'collaborator') return '/shared';
  if (role === 'admin' || role === 'member' || !role) return `/orgs/${enc(orgId)}/settings`;
  return `/orgs/${enc(orgId)}/projects`;
}

export function usage(p, plan) {
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

/** The organization's projects (recoverable=true: the deleted ones), or null without a projects endpoint. */
export async function projectsOf(orgId, { recoverable = false } = {}) {
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
