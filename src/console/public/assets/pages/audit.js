// Settings → Audit log (admins): filters (the action picked from the actions the log holds),
// events whose rows open to show what changed, and paging that stays short on a phone.
import { api } from '../api.js';
import { act, h, loadInto, time } from '../ui.js';
import { enc } from '../context.js';

/** Who acted, in words: a person's email, a key's name with its id, or the operator's CLI. */
export function actorText(a) {
  if (!a) return '';
  if (a.type === 'user') return a.email || a.id;
  if (a.type === 'api_key') {
    const kind = a.kind === 'project' ? 'Project key' : 'Organization key';
    return a.name ? `${kind} “${a.name}” (id ${a.id})` : `${kind} id ${a.id}`;
  }
  return 'operator (CLI)';
}

const isPhone = () => window.matchMedia && window.matchMedia('(max-width: 640px)').matches;

/** One value of `changes`, readable: {from, to} as "from → to", objects as JSON. */
function changeValue(v) {
  if (v && typeof v === 'object' && !Array.isArray(v) && 'from' in v && 'to' in v)
    return h('span', {}, h('del', {}, fmt(v.from)), ' → ', h('ins', {}, fmt(v.to)));
  return h('span', {}, fmt(v));
}
const fmt = (v) =>
  v === null || v === undefined ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** An event as a disclosure: the summary is the row, the body what changed and from where. */
function eventItem(e) {
  const changes = Object.entries(e.changes || {});
  return h(
    'li',
    { class: 'audit-event' },
    h(
      'details',
      {},
      h(
        'summary',
        {},
        h('span', { class: 'audit-when' }, time(e.at)),
        h('code', { class: 'audit-action' }, e.action),
        h('span', { class: 'audit-who' }, actorText(e.actor)),
        h(
          'span',
          { class: `badge${e.outcome === 'denied' ? ' danger' : ''}` },
          e.outcome === 'denied' ? `refused (${e.status})` : 'done',
        ),
      ),
      h(
        'dl',
        { class: 'facts audit-details' },
        h('dt', {}, 'Target'),
        h('dd', {}, e.target ? `${e.target.type}${e.target.id ? ` ${e.target.id}` : ''}` : '—'),
        ...(changes.length
          ? changes.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, changeValue(v))])
          : [h('dt', {}, 'Changes'), h('dd', {}, 'none recorded')]),
        h('dt', {}, 'From'),
        h('dd', {}, e.client_addr || '—'),
        h('dt', {}, 'Request'),
        h('dd', {}, h('code', {}, e.request_id || '—')),
      ),
    ),
  );
}

export function auditView(orgId, container) {
  const list = h('div', { id: 'audit-list' });
  const field = (id, label, control) => h('div', { class: 'field' }, h('label', { for: id }, label), control);
  // Busy until the server's list of actions has arrived (below).
  const actionSelect = h(
    'select',
    { id: 'audit-action', name: 'audit-action', 'aria-busy': 'true' },
    h('option', { value: '' }, 'All actions'),
  );
  const input = (id, attrs = {}) => h('input', { id, name: id, autocomplete: 'off', ...attrs });
  const form = h(
    'form',
    { class: 'inline', id: 'audit-filters', novalidate: true },
    field('audit-action', 'Action', actionSelect),
    field('audit-actor', 'Actor (email, user or key id)', input('audit-actor')),
    field('audit-since', 'Since', input('audit-since', { type: 'date' })),
    field('audit-until', 'Until', input('audit-until', { type: 'date' })),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  // The server's list of the actions this log holds: the filter offers only what can match.
  api('GET', `/organizations/${enc(orgId)}/audit_log/actions`)
    .then(
      (res) => actionSelect.append(...(res.actions || []).map((a) => h('option', { value: a }, a))),
      () => {},
    )
    .finally(() => actionSelect.removeAttribute('aria-busy'));
  // Ten events per page on a phone (rows open for details), fifty on a wider screen.
  const pageSize = () => (isPhone() ? 10 : 50);
  const query = () => {
    const q = new URLSearchParams({ limit: String(pageSize()) });
    const v = (id) => form.querySelector(`#${id}`).value.trim();
    if (v('audit-action')) q.set('action', v('audit-action'));
    if (v('audit-actor')) q.set('actor', v('audit-actor'));
    if (v('audit-since')) q.set('since', new Date(`${v('audit-since')}T00:00:00`).toISOString());
    if (v('audit-until')) q.set('until', new Date(`${v('audit-until')}T23:59:59`).toISOString());
    return q;
  };
  const load = () =>
    loadInto(list, 'the audit log', async () => {
      const res = await api('GET', `/organizations/${enc(orgId)}/audit_log?${query()}`);
      const events = res.events || [];
      if (events.length === 0)
        return h('p', { class: 'hint', id: 'audit-empty' }, 'No events match these filters.');
      const ul = h(
        'ul',
        { class: 'audit-events', 'aria-label': 'Audit events, newest first' },
        events.map(eventItem),
      );
      const out = [h('p', { class: 'hint' }, 'Open an event to see what changed.'), ul];
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
          ul.append(...(page2.events || []).map(eventItem));
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
