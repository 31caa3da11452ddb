// API key lists shared by the organization's keys tab and the account page: expiry, revoke, rotate.
import { api } from './api.js';
import { act, confirmDialog, h, table, time, toast, tokenDialog } from './ui.js';
import { emptyState } from './context.js';

export const DAY = 86_400_000;

/** Key expiry (when the server reports it): the date, with a warning within 7 days. */
export function expiryCell(k) {
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

export function keyList(
  keys,
  { caption, onRevoke, canRevoke, withScope, emptyText, extraActions = () => [] },
) {
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

export async function revokeFlow(k, button, errors, path, reload) {
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

export const OVERLAPS = [
  [0, 'No overlap: the old key stops at once'],
  [3600, 'One hour'],
  [86400, 'One day'],
  [604800, 'Seven days'],
];

export function rotateButton(k, path, errors, reload) {
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
        tokenDialog(created.key, created.name, { title: `API key “${k.name}” rotated: the new key` });
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

/** Expiry choices for a new key, within the organization's maximum lifetime when it has one. */
const EXPIRIES = [
  [7, '7 days'],
  [30, '30 days'],
  [90, '90 days'],
  [365, '1 year'],
];

/** A labelled expiry select (id `${idPrefix}-expiry`); `maxDays` (optional) drops "never" and longer choices. */
export function expiryField(idPrefix, maxDays) {
  const id = `${idPrefix}-expiry`;
  const choices = EXPIRIES.filter(([d]) => !maxDays || d <= maxDays);
  if (maxDays && !choices.some(([d]) => d === maxDays))
    choices.push([maxDays, `${maxDays} days (the maximum)`]);
  const select = h(
    'select',
    { id, name: 'expiry' },
    maxDays ? null : h('option', { value: '' }, 'Never'),
    choices.map(([d, label], i) =>
      h('option', { value: String(d), selected: maxDays ? i === choices.length - 1 : d === 90 }, label),
    ),
  );
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, 'Expires after'),
    select,
    maxDays ? h('p', { class: 'hint' }, `Keys of this organization expire within ${maxDays} days.`) : null,
  );
}

/** The expires_at of the choice in `form` (undefined: never). */
export function expiresAtOf(form, idPrefix) {
  const v = form.querySelector(`#${idPrefix}-expiry`)?.value;
  return v ? new Date(Date.now() + Number(v) * 86_400_000).toISOString() : undefined;
}
