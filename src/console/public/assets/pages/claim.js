// Claiming a project transfer request (Neon's /app/claim?p=…&tr=… and orgplane's claim_url).
import { api, safeNext } from '../api.js';
import { errorBox, h, loadInto, time, toast } from '../ui.js';
import { emptyState, enc, navigate, noRoute, page, refreshOrgs, state } from '../context.js';

export function claimPage(_orgId, _tab, r) {
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
  const card = h('div', { class: 'card', id: 'claim-card' });
  page('Claim a project', card);
  loadInto(card, 'the transfer request', () => claimView(projectId, requestId, next));
}

const STATUS_TEXT = {
  accepted: 'This link was already used: the project has moved. Each link works once.',
  expired: 'This link has expired. Ask the sender for a new link.',
  moved:
    'The project has moved to another organization since this link was made, so the link no longer works. Ask for a new link.',
  cancelled: 'This link was cancelled by an admin of the organization. Ask for a new link.',
  withdrawn:
    'Whoever made this link can no longer transfer the project (no longer an admin, or the key was revoked), so the link no longer works. Ask for a new link.',
};

/** What the link offers (GET …/transfer_requests/{id}), and where the project may go. */
async function claimView(projectId, requestId, next) {
  let v;
  try {
    v = await api('GET', `/projects/${enc(projectId)}/transfer_requests/${enc(requestId)}`);
  } catch (err) {
    if (err.status === 404 && !noRoute(err))
      return emptyState(
        'This claim link does not work',
        'The transfer request is unknown, or the link was cut short. Open the whole link you received, or ask the sender for a new one.',
      );
    throw err;
  }
  const facts = h(
    'dl',
    { class: 'facts', id: 'claim-facts' },
    h('dt', {}, 'Project'),
    h('dd', {}, h('strong', { id: 'claim-project-name' }, v.project_name), ' ', h('code', {}, v.project_id)),
    h('dt', {}, 'Sent by'),
    h('dd', { id: 'claim-sender' }, v.created_by_email || 'unknown'),
    h('dt', {}, 'From'),
    h('dd', {}, v.source_org_name || (v.source_org_id ? v.source_org_id : 'a personal account')),
    h('dt', {}, v.status === 'expired' ? 'Expired' : 'Expires'),
    h('dd', {}, time(v.expires_at)),
  );
  if (v.status !== 'pending') {
    return [
      facts,
      h(
        'div',
        { class: 'notice info', id: 'claim-unusable', role: 'status' },
        h('p', {}, STATUS_TEXT[v.status]),
      ),
    ];
  }
  // The organizations it may go to: yours, except the one it is in, where you may accept transfers.
  const candidates = state.orgs.filter((o) => o.id !== v.source_org_id);
  const caps = await Promise.all(
    candidates.map((o) => api('GET', `/organizations/${enc(o.id)}/capabilities`).catch(() => null)),
  );
  const targets = candidates.filter((_o, i) => caps[i]?.actions['project:transfer_request_accept']?.allowed);
  if (targets.length === 0) {
    return [
      facts,
      h(
        'div',
        { class: 'notice info', id: 'claim-no-target' },
        h(
          'p',
          {},
          candidates.length
            ? 'None of your organizations accepts projects from you: only their admins and members can take a project in. Ask an admin, or create your own organization.'
            : 'You belong to no other organization to move it into. Create one, then open this link again.',
        ),
        h('a', { class: 'button primary', href: '/orgs/new', 'data-link': true }, 'Create an organization'),
      ),
    ];
  }
  const errors = h('div', { id: 'claim-error' });
  const form = h(
    'form',
    { class: 'stack', id: 'claim-form', novalidate: true },
    h(
      'p',
      {},
      `${v.created_by_email || 'Someone'} offers you the project “${v.project_name}”. Accepting moves it, with its data and connection strings, into the organization you choose; the sender's organization loses it.`,
    ),
    h(
      'div',
      {},
      h('label', { for: 'claim-org' }, 'Move it into'),
      h(
        'select',
        { id: 'claim-org', name: 'org' },
        targets.map((o) => h('option', { value: o.id }, o.name)),
      ),
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
          'This transfer request has expired or was cancelled. Ask the sender for a new link.';
      } else if (err.status === 400 && /already/.test(err.message)) {
        errors.replaceChildren(errorBox(err, 'claim'));
        errors.querySelector('p').textContent =
          'The project is already in that organization. Choose another one.';
      } else if (err.status === 409) {
        errors.replaceChildren(errorBox(err, 'claim'));
        errors.querySelector('p').textContent =
          'This transfer request was already used, the project has moved since, or whoever made it can no longer transfer it. Each link works once.';
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
  return [facts, form];
}

// ---------- Account ----------
