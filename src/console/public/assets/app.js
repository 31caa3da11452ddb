// The console application shell: a small client-side router over the public API (session-authenticated).
// Each page lives in its own module under pages/; what a page offers follows the viewer's
// capabilities as the server computes them (GET /organizations/{id}/capabilities for organization
// actions, GET /projects/{id}/capabilities or effective_project_permission for a project's), so the
// console keeps no copy of the permission rules.
import { api, loadSession, signOut } from './api.js';
import { act, errorBox, h } from './ui.js';
import {
  can,
  enc,
  fill,
  landingFor,
  main,
  navigate,
  page,
  refreshOrgs,
  setRenderer,
  state,
} from './context.js';
import { notFoundPage, orgNotFoundPage } from './pages/not-found.js';
import { SETTINGS_TABS, settingsPage } from './pages/settings.js';
import { projectsPage } from './pages/projects.js';
import { sharedPage } from './pages/shared.js';
import { projectPage } from './pages/project.js';
import { claimPage } from './pages/claim.js';
import { accountPage } from './pages/account.js';
import { newOrgPage } from './pages/new-org.js';

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
    navigate(value === '__new' ? '/orgs/new' : `/orgs/${enc(value)}`);
  });
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[data-link]');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  });
  window.addEventListener('popstate', () => render());
  setRenderer(render);
  await Promise.all([refreshOrgs(), refreshShared()]);
  render();
}

/** Whether anything is shared with the viewer: the "Shared with you" view is offered then. */
async function refreshShared() {
  try {
    const res = await api('GET', '/projects/shared?limit=1');
    state.hasShared = (res.projects || []).length > 0;
  } catch {
    state.hasShared = false;
  }
}

async function onSignOut(e) {
  await act(e.currentTarget, null, async () => {
    await signOut();
    window.location.assign('/signin');
  });
}

function route(pathname) {
  if (pathname === '/' || pathname === '') return { page: 'home' };
  if (pathname === '/orgs/new') return { page: 'new-org' };
  if (pathname === '/account') return { page: 'account' };
  if (pathname === '/shared' || pathname === '/shared/') return { page: 'shared' };
  let m = /^\/orgs\/([^/]+)\/?$/.exec(pathname);
  if (m) return { page: 'org-home', orgId: decodeURIComponent(m[1]) };
  m = /^\/orgs\/([^/]+)\/settings(?:\/([a-z-]+))?\/?$/.exec(pathname);
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
  m = /^\/projects\/([^/]+)\/?$/.exec(pathname);
  if (m) return { page: 'project', projectId: decodeURIComponent(m[1]) };
  return { page: 'not-found' };
}

/**
 * Where a person starts: in their first organization, by role (admins and members on Settings,
 * viewers and editors on Projects, collaborators on what is shared with them); without an
 * organization, on what is shared with them, else on creating one.
 */
async function landing(orgId) {
  if (orgId) {
    try {
      return landingFor(orgId, await api('GET', `/organizations/${enc(orgId)}/capabilities`));
    } catch {
      return `/orgs/${enc(orgId)}/settings`; // the settings page explains the error
    }
  }
  if (state.hasShared) return '/shared';
  return '/orgs/new';
}

function renderSwitcher() {
  const select = document.getElementById('org-switcher');
  const known = state.orgs.some((o) => o.id === state.orgId);
  fill(
    select,
    state.orgId && !known
      ? h('option', { value: '__unknown', selected: true }, 'Unknown organization')
      : null,
    !state.orgId
      ? h(
          'option',
          { value: '__unknown', selected: true, disabled: true },
          state.orgs.length ? 'Choose…' : 'No organization',
        )
      : null,
    ...state.orgs.map((o) => h('option', { value: o.id, selected: o.id === state.orgId }, o.name)),
    h('option', { value: '__new' }, '+ New organization…'),
  );
  select.disabled = false;
}

/** Links to what the viewer may open: organization pages per its capabilities, and shared projects. */
function renderNav(current) {
  const links = [];
  const known = state.orgs.some((o) => o.id === state.orgId);
  const capsHere = state.caps && state.caps.org_id === state.orgId;
  if (state.orgId && known && capsHere) {
    if (can('organization:read')) links.push(['Settings', `/orgs/${enc(state.orgId)}/settings`, 'settings']);
    if (can('project:list') && state.caps.role !== 'collaborator')
      links.push(['Projects', `/orgs/${enc(state.orgId)}/projects`, 'projects']);
  }
  if (state.hasShared || (capsHere && state.caps.role === 'collaborator'))
    links.push(['Shared with you', '/shared', 'shared']);
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

async function loadCaps(orgId, seq) {
  const caps = await api('GET', `/organizations/${enc(orgId)}/capabilities`);
  if (seq !== state.seq) return false;
  state.caps = caps;
  return true;
}

async function render() {
  const seq = ++state.seq;
  const r = route(window.location.pathname);
  if (r.page === 'home') {
    const target = await landing(state.orgs[0]?.id);
    if (seq === state.seq) navigate(target, { replace: true });
    return;
  }
  if (r.page === 'org-home') {
    const target = await landing(r.orgId);
    if (seq === state.seq) navigate(target, { replace: true });
    return;
  }
  if (r.orgId) state.orgId = r.orgId;
  else if (r.page === 'new-org') state.orgId = null;
  // Pages outside an organization keep the switcher and links on one of yours.
  else if (!state.orgId && state.orgs[0]) state.orgId = state.orgs[0].id;
  renderSwitcher();
  if (r.orgId) {
    // What this viewer may do here, from the server; an unknown organization is one clear page.
    main.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    try {
      if (!(await loadCaps(r.orgId, seq))) return;
    } catch (err) {
      if (seq !== state.seq) return;
      state.caps = null;
      renderNav(r.page);
      if (err.status === 404) orgNotFoundPage(r.orgId);
      else page('Something went wrong', errorBox(err));
      return finishRender();
    }
  } else if (state.orgId && (!state.caps || state.caps.org_id !== state.orgId)) {
    // Pages outside an organization still show its links, so its capabilities are needed.
    try {
      if (!(await loadCaps(state.orgId, seq))) return;
    } catch {
      state.caps = null;
    }
  }
  renderNav(r.page);
  const pages = {
    settings: settingsPage,
    projects: projectsPage,
    shared: sharedPage,
    project: projectPage,
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
  if (heading && !state.firstRender) heading.focus({ preventScroll: false });
  state.firstRender = false;
  // On a phone the tab bar scrolls sideways: keep the active tab in view.
  const active = main.querySelector('.tabs [aria-current="page"]');
  if (active) active.scrollIntoView({ block: 'nearest', inline: 'center' });
}

boot();
