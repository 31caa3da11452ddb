// The "nothing here" pages: an unknown address, an organization you cannot see.
import { h } from '../ui.js';
import { emptyState, enc, page, state } from '../context.js';

export function notFoundPage() {
  page(
    'Page not found',
    emptyState(
      'There is nothing at this address',
      'The link may be mistyped, or the page may have moved.',
      h('a', { class: 'button primary', href: '/', 'data-link': true }, 'Go to your organization'),
    ),
  );
}

export function orgNotFoundPage(orgId) {
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
