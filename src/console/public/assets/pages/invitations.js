// Settings → Invitations: invite by email, pending and accepted invitations.
import { api } from '../api.js';
import { act, confirmDialog, copyText, errorBox, h, loadInto, table, time, toast } from '../ui.js';
import { ROLE_TEXT, can, enc, noRoute, plural, smtpConfigured, why } from '../context.js';
import { roleOptions } from './members.js';

export function invitationsView(orgId, container) {
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
  const outcome = h('div', { id: 'invite-outcome', 'aria-live': 'polite' });
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
    reload();
    await reportDelivery(orgId, res.invitations || [], outcome, reload);
  });
  container.replaceChildren(form, outcome, list);
  reload();
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The links of invitations whose email did not leave the server, for the admin to pass on. */
function undeliveredBox(invs) {
  const status = h('span', { role: 'status', class: 'success' });
  return h(
    'div',
    { class: 'warning', id: 'invite-not-sent', role: 'alert' },
    h('p', {}, h('strong', {}, 'Email not sent: '), invs[0].email_error ? `${invs[0].email_error}.` : ''),
    h('p', {}, 'Pass each link on yourself (it works once, until the invitation expires):'),
    h(
      'ul',
      { class: 'links' },
      invs.map((inv) =>
        h(
          'li',
          {},
          h('span', {}, inv.email),
          ' ',
          inv.join_url
            ? [
                h('input', {
                  class: 'token',
                  readonly: true,
                  value: inv.join_url,
                  'aria-label': `Invitation link for ${inv.email}`,
                }),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'small',
                    'aria-label': `Copy link for ${inv.email}`,
                    onclick: () => copyText(inv.join_url, status),
                  },
                  'Copy link',
                ),
              ]
            : h('span', { class: 'hint' }, '(no link: they already have an account)'),
        ),
      ),
    ),
    status,
  );
}

/**
 * Says what really happened to the emails: not sent (no SMTP, or the mail server failed), sent,
 * or still queued. With SMTP configured the outbox sends after the answer, so the list is read
 * again a few times to learn the outcome instead of claiming it.
 */
async function reportDelivery(orgId, created, outcome, reload) {
  const joined = created.filter((i) => i.status === 'accepted');
  const joinedText = joined.length
    ? `${joined.map((i) => i.email).join(', ')} already had an account and joined at once. `
    : '';
  let pending = created.filter((i) => i.status === 'pending');
  const show = (...children) => outcome.replaceChildren(...children.flat().filter(Boolean));
  const notSent = (invs) => invs.filter((i) => i.email_error);
  if (pending.length === 0) {
    toast(joinedText.trim() || 'Nothing to send.');
    return show();
  }
  if (notSent(pending).length || smtpConfigured() === false) {
    toast(`${plural(pending.length, 'invitation')} created; the email was not sent.`);
    return show(joinedText ? h('p', {}, joinedText) : null, undeliveredBox(pending));
  }
  show(
    h(
      'p',
      { class: 'loading', role: 'status', id: 'invite-sending' },
      `${joinedText}Sending ${plural(pending.length, 'invitation email')}…`,
    ),
  );
  const ids = new Set(pending.map((i) => i.id));
  for (let i = 0; i < 20; i++) {
    await pause(i < 5 ? 300 : 1000);
    let res;
    try {
      res = await api('GET', `/organizations/${enc(orgId)}/invitations`);
    } catch {
      break;
    }
    pending = (res.invitations || []).filter((inv) => ids.has(inv.id));
    if (notSent(pending).length) {
      reload();
      return show(undeliveredBox(notSent(pending)));
    }
    if (pending.every((inv) => inv.email_status === 'sent')) {
      reload();
      return show(
        h(
          'div',
          { class: 'notice success', role: 'status', id: 'invite-sent' },
          h('p', {}, `${joinedText}${plural(pending.length, 'invitation')} sent by email.`),
        ),
      );
    }
  }
  show(
    h(
      'div',
      { class: 'notice info', role: 'status', id: 'invite-queued' },
      h(
        'p',
        {},
        `${joinedText}${plural(pending.length, 'invitation')} created; the email is queued and has not been delivered yet. The list below shows when it is.`,
      ),
    ),
  );
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
    if (inv.join_url)
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            'aria-label': `Copy link for ${inv.email}`,
            onclick: () => copyText(inv.join_url, null),
          },
          'Copy link',
        ),
      );
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
              if (ok === undefined) return;
              if (ok.email_error) {
                toast(`New link for ${inv.email}; the email was not sent.`);
                errors.replaceChildren(undeliveredBox([ok]));
              } else {
                toast(
                  `Invitation to ${inv.email} queued again, with a new link; the old link no longer works.`,
                );
              }
              reload();
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
          h(
            'span',
            { class: 'row' },
            h('span', { class: `badge${status(inv) === 'expired' ? ' warn' : ''}` }, status(inv)),
            inv.email_error
              ? h('span', { class: 'badge warn', title: inv.email_error }, 'email not sent')
              : inv.email_status === 'sent'
                ? h('span', { class: 'badge' }, 'email sent')
                : inv.email_status === 'pending' && status(inv) === 'pending'
                  ? h('span', { class: 'badge' }, 'email queued')
                  : null,
          ),
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
