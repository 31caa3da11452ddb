// "Shared with you": the projects other people shared with the viewer (GET /projects/shared), in
// any organization or personal. What each row offers follows that project's own capabilities.
import { api } from '../api.js';
import { h, loadInto, table, time } from '../ui.js';
import { emptyState, enc, page, projectCan, section, state } from '../context.js';
import { projectLink, renameButton, shareButton } from './project-actions.js';

const LEVEL_TEXT = { CAN_VIEW: 'can view', CAN_EDIT: 'can edit', CAN_MANAGE: 'can manage' };

export function sharedPage() {
  const s = section('Projects shared with you', 'shared-projects');
  page(
    'Shared with you',
    h(
      'p',
      { class: 'hint', id: 'shared-intro' },
      `Projects others shared with ${state.session.user.email}: a share opens that project only, not the rest of its organization.`,
    ),
    s.el,
  );
  const reload = () => loadInto(s.body, 'shared projects', () => sharedList(reload));
  reload();
}

async function sharedList(reload) {
  const res = await api('GET', '/projects/shared?limit=100');
  const projects = res.projects || [];
  if (projects.length === 0) {
    return emptyState(
      'Nothing is shared with you yet',
      `When someone shares a project with ${state.session.user.email}, it appears here.`,
      state.orgs.length
        ? null
        : h('a', { class: 'button', href: '/orgs/new', 'data-link': true }, 'Create an organization'),
    );
  }
  // Each project's own capabilities decide its buttons (one small request per shared project).
  const caps = await Promise.all(
    projects.map((p) => api('GET', `/projects/${enc(p.id)}/capabilities`).catch(() => null)),
  );
  return table(
    'Projects shared with you',
    ['Name', 'Organization', 'Your access', 'Created', 'Actions'],
    projects.map((pr, i) => {
      const pc = caps[i];
      const level = pc?.effective_project_permission || pr.effective_project_permission;
      const buttons = [
        h(
          'a',
          { class: 'button small', href: `/projects/${enc(pr.id)}`, 'data-link': true },
          'Open',
          h('span', { class: 'visually-hidden' }, ` ${pr.name}`),
        ),
        projectCan(pc, 'project:update') ? renameButton(pr, reload) : null,
        projectCan(pc, 'project_permission:list') ? shareButton(pr) : null,
      ].filter(Boolean);
      return [
        projectLink(pr),
        pr.org_name || (pr.org_id ? h('code', {}, pr.org_id) : 'Personal project'),
        h(
          'span',
          { class: 'badge' },
          LEVEL_TEXT[level] || (projectCan(pc, 'project:update') ? 'can edit' : 'can view'),
        ),
        time(pr.created_at),
        h('div', { class: 'row' }, buttons),
      ];
    }),
  );
}
