// Settings → Members: roles, removal, leaving.
import { api } from '../api.js';
import { act, confirmDialog, h, loadInto, table, time, toast } from '../ui.js';
import { ROLE_TEXT, can, enc, navigate, orgName, refreshOrgs, state, why, withArticle } from '../context.js';

export async function allMembers(orgId) {
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

export function roleOptions(selected) {
  return (state.caps.roles || ['admin', 'member']).map((r) =>
    h('option', { value: r, selected: r === selected }, r),
  );
}

export async function membersView(orgId, container) {
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
              toast(`${user.email} is now ${withArticle(role)}.`);
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
