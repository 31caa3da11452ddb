// Projects of an organization: create, list, rename, share, delete, recover, transfer.
import { api } from '../api.js';
import { act, confirmDialog, errorBox, h, loadInto, table, time, toast } from '../ui.js';
import {
  can,
  emptyState,
  enc,
  levelAllows,
  orgName,
  page,
  plural,
  projectsOf,
  section,
  state,
  usage,
  why,
} from '../context.js';
import { projectLink, renameButton, shareButton } from './project-actions.js';

export function projectsPage(orgId) {
  const caps = state.caps;
  const p = caps.projects;
  const atLimit = p.count >= p.limit;
  const listSection = section('Projects', 'projects');
  const deletedSection = section('Recently deleted', 'deleted-projects');
  const createSection = section('New project', 'new-project');
  const transfer = section('Transfer projects to another organization', 'transfer');
  const errors = h('div', { id: 'projects-error' });
  // Plan usage is the organization's; people who cannot read the organization see only their projects.
  const orgReader = can('organization:read');
  page(
    `Projects of ${orgName(orgId)}`,
    orgReader &&
      h(
        'div',
        { class: 'card', id: 'plan-usage' },
        usage(p, caps.plan),
        atLimit
          ? h(
              'p',
              { class: 'hint' },
              'The plan allows no more projects: delete one, or ask an operator to upgrade the plan (npx orgplane orgs set-plan).',
            )
          : null,
      ),
    can('project:create') ? createSection.el : null,
    listSection.el,
    can('project:recover') ? deletedSection.el : null,
    can('project:transfer_out') ? transfer.el : null,
  );
  const selected = new Set();
  const result = h('div', { id: 'transfer-result', 'aria-live': 'polite' });
  const refreshCaps = async () => {
    state.caps = await api('GET', `/organizations/${enc(orgId)}/capabilities`);
  };
  const reloadAll = async () => {
    await refreshCaps();
    projectsPage(orgId);
  };
  // The confirmation comes once the page shows the result: typing into the form before the
  // re-render would otherwise be lost (and a second click would act on the old form).
  const reloadThen = async (message) => {
    try {
      await reloadAll();
    } finally {
      toast(message);
    }
  };

  // Create
  const regionId = 'new-project-region';
  const createForm = h(
    'form',
    { class: 'inline', id: 'new-project-form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'new-project-name' }, 'Project name'),
      h('input', {
        id: 'new-project-name',
        name: 'name',
        maxlength: '64',
        autocomplete: 'off',
        disabled: atLimit,
        'aria-describedby': 'new-project-name-hint',
      }),
      h(
        'p',
        { class: 'hint', id: 'new-project-name-hint' },
        'Optional: left empty, the project gets a generated name (like red-bush-12345678).',
      ),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: regionId }, 'Region'),
      h(
        'select',
        { id: regionId, name: 'region', disabled: atLimit },
        caps.regions.ids.map((r) => h('option', { value: r, selected: r === caps.regions.default }, r)),
      ),
    ),
    h(
      'button',
      {
        type: 'submit',
        class: 'primary',
        disabled: atLimit,
        'aria-describedby': atLimit ? 'limit-reason' : undefined,
      },
      'Create project',
    ),
  );
  const createErrors = h('div', { id: 'new-project-error' });
  createSection.body.replaceChildren(
    createForm,
    atLimit
      ? h(
          'p',
          { class: 'hint', id: 'limit-reason' },
          `All ${p.limit} projects of the ${caps.plan} plan are in use.`,
        )
      : p.limit === undefined
        ? null // the plan is shown only to those who may read the organization
        : h(
            'p',
            { class: 'hint' },
            `${p.limit - p.count} more project${p.limit - p.count === 1 ? '' : 's'} allowed on the ${caps.plan} plan.`,
          ),
    createErrors,
  );
  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = createForm.name.value.trim();
    const body = {
      project: { org_id: orgId, region_id: createForm.region.value, ...(name ? { name } : {}) },
    };
    const created = await act(
      createForm.querySelector('button[type=submit]'),
      createErrors,
      () => api('POST', '/projects', body),
      'Creating…',
      'project-create',
    );
    if (!created) return;
    await reloadThen(`Project ${created.project.name} created in ${created.project.region_id}.`);
  });

  // List
  const renderList = async () => {
    selected.clear();
    result.replaceChildren();
    await loadInto(listSection.body, 'projects', async () => {
      const projects = await projectsOf(orgId);
      if (projects === null) return h('p', { class: 'hint' }, 'This server does not list projects yet.');
      if (projects.length === 0) {
        return emptyState(
          'No projects yet',
          can('project:create')
            ? 'Create the first project of this organization with the form above: give it a name and pick a region.'
            : 'Projects of this organization will appear here.',
        );
      }
      const transferable = can('project:transfer_out');
      // No Actions column of dashes for people who may act on none of these projects.
      const actions = projects.map((pr) => projectActions(pr));
      const anyActions = actions.some((a) => a !== '—');
      const headers = [
        ...(transferable ? ['Select'] : []),
        'Name',
        'ID',
        'Region',
        'Created',
        ...(anyActions ? ['Actions'] : []),
      ];
      return [
        errors,
        table(
          'Projects',
          headers,
          projects.map((pr, i) => [
            ...(transferable
              ? [
                  h(
                    'span',
                    {},
                    h('input', {
                      type: 'checkbox',
                      id: `sel-${pr.id}`,
                      value: pr.id,
                      onchange: (ev) => (ev.target.checked ? selected.add(pr.id) : selected.delete(pr.id)),
                    }),
                    h('label', { for: `sel-${pr.id}`, class: 'visually-hidden' }, `Select ${pr.name}`),
                  ),
                ]
              : []),
            projectLink(pr),
            h('code', {}, pr.id),
            pr.region_id,
            time(pr.created_at),
            ...(anyActions ? [actions[i]] : []),
          ]),
        ),
      ];
    });
  };
  const projectActions = (pr) => {
    const buttons = [];
    // A project's own permission decides (a grant can raise a viewer's on one project).
    const level = pr.effective_project_permission;
    const allows = (action) => (level ? levelAllows(level, action) : can(action));
    if (allows('project:update')) buttons.push(renameButton(pr, renderList));
    // Sharing is offered where the server's policy has it and lets this viewer see who has access.
    if (allows('project_permission:list')) buttons.push(shareButton(pr));
    if (allows('project:delete'))
      buttons.push(
        h(
          'button',
          {
            type: 'button',
            class: 'small danger',
            'aria-label': `Delete project ${pr.name}`,
            onclick: async (e) => {
              const days = caps.projects.recovery_window_days;
              const yes = await confirmDialog({
                title: `Delete project “${pr.name}”?`,
                message: `The project stops answering at once. For ${days} days an admin can recover it from “Recently deleted” on this page; after that it is gone for good.`,
                confirmLabel: 'Delete project',
              });
              if (!yes) return;
              const ok = await act(
                e.currentTarget,
                errors,
                () => api('DELETE', `/projects/${enc(pr.id)}`),
                null,
                'project-delete',
              );
              if (ok === undefined) return;
              await reloadThen(`Project ${pr.name} deleted. You can recover it for ${days} days.`);
            },
          },
          'Delete',
        ),
      );
    return buttons.length ? h('div', { class: 'row' }, buttons) : '—';
  };

  // Recently deleted (recoverable)
  if (can('project:recover'))
    loadInto(deletedSection.body, 'deleted projects', async () => {
      const deleted = await projectsOf(orgId, { recoverable: true });
      if (!deleted || deleted.length === 0)
        return h(
          'p',
          { class: 'hint', id: 'no-deleted' },
          `Deleted projects can be recovered here for ${caps.projects.recovery_window_days} days. There are none.`,
        );
      return table(
        'Recently deleted projects',
        ['Name', 'ID', 'Deleted', 'Recoverable until', 'Actions'],
        deleted.map((pr) => [
          pr.name,
          h('code', {}, pr.id),
          time(pr.deleted_at),
          time(pr.recoverable_until),
          can('project:recover')
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'small',
                  'aria-label': `Recover project ${pr.name}`,
                  disabled: atLimit,
                  title: atLimit ? 'The plan allows no more projects' : undefined,
                  onclick: async (e) => {
                    const ok = await act(
                      e.currentTarget,
                      errors,
                      () => api('POST', `/projects/${enc(pr.id)}/recover`),
                      null,
                      'project-recover',
                    );
                    if (ok === undefined) return;
                    await reloadThen(`Project ${pr.name} recovered.`);
                  },
                },
                'Recover',
              )
            : h('span', { class: 'hint' }, why('project:recover')),
        ]),
      );
    });

  // Transfer
  const others = state.orgs.filter((o) => o.id !== orgId);
  if (others.length === 0) {
    transfer.body.replaceChildren(
      h('p', { class: 'hint' }, 'You belong to no other organization. Create one to move projects there.'),
    );
  } else {
    const form = h(
      'form',
      { class: 'inline', id: 'transfer-form', novalidate: true },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'transfer-destination' }, 'Destination organization'),
        h(
          'select',
          { id: 'transfer-destination', name: 'destination' },
          others.map((o) => h('option', { value: o.id }, `${o.name} (${o.id})`)),
        ),
      ),
      h('button', { type: 'submit' }, 'Preview transfer'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      previewTransfer(orgId, [...selected], form, result, reloadAll);
    });
    transfer.body.replaceChildren(
      h(
        'p',
        { class: 'hint' },
        'Select projects above, pick a destination, and preview: nothing moves until you confirm.',
      ),
      form,
      result,
    );
  }
  renderList();
}

async function previewTransfer(orgId, ids, form, result, reloadAll) {
  if (ids.length === 0) {
    result.replaceChildren(errorBox('Select at least one project above.'));
    return;
  }
  const dest = form.destination.value;
  const body = { destination_org_id: dest, project_ids: ids };
  const path = `/organizations/${enc(orgId)}/projects/transfer`;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  result.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Checking what would happen…'));
  try {
    // The dry run answers a report (`would_succeed`, `limits`, `integrations`, `api_keys_revoked`);
    // a server may also answer 406/422 directly, handled below.
    const report = (await api('POST', `${path}?dry_run=true`, body)) || {};
    if (report.would_succeed === false) {
      result.replaceChildren(
        h(
          'div',
          { class: 'error', role: 'alert' },
          h('p', {}, 'Dry run: this transfer would be refused. Nothing has changed.'),
          report.limits && report.limits.length ? limitsView(report.limits) : null,
          report.integrations && report.integrations.length ? integrationsView(report.integrations) : null,
        ),
      );
      return;
    }
    const revoked = report.api_keys_revoked || [];
    const confirm = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        id: 'transfer-confirm',
        onclick: async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            await api('POST', path, body);
            toast(`Moved ${plural(ids.length, 'project')} to ${orgName(dest)}.`);
            await reloadAll();
            document
              .getElementById('transfer-result')
              ?.replaceChildren(
                h(
                  'div',
                  { class: 'notice success', role: 'status' },
                  h('p', {}, `Moved ${plural(ids.length, 'project')} to ${orgName(dest)}.`),
                ),
              );
          } catch (err) {
            result.replaceChildren(transferError(err));
          }
        },
      },
      `Transfer ${plural(ids.length, 'project')}`,
    );
    result.replaceChildren(
      h(
        'div',
        { class: 'warning' },
        h(
          'p',
          {},
          `Dry run: ${plural(ids.length, 'project')} can move from ${orgName(orgId)} to ${orgName(dest)}. Nothing has changed yet.`,
        ),
        h(
          'ul',
          {},
          ids.map((id) => h('li', {}, h('code', {}, id))),
        ),
        revoked.length
          ? h(
              'div',
              {},
              h('p', {}, 'These project-scoped API keys will stop working:'),
              h(
                'ul',
                {},
                revoked.map((k) => h('li', {}, `${k.name} (project ${k.project_id})`)),
              ),
            )
          : null,
        confirm,
      ),
    );
    confirm.focus();
  } catch (err) {
    result.replaceChildren(transferError(err));
  } finally {
    button.disabled = false;
  }
}

function limitsView(limits) {
  const words = (l) =>
    l.name === 'projects_count'
      ? `The destination's plan allows ${l.expected} projects; it would have ${l.actual}.`
      : l.name === 'subscription_type'
        ? `Projects may only move to an organization on the same or a higher plan (this one is ${l.expected}, the destination is ${l.actual}).`
        : `${l.name}: expected ${l.expected}, the destination has ${l.actual}.`;
  return h(
    'div',
    {},
    h('p', {}, "The destination organization's plan does not allow this transfer:"),
    h(
      'ul',
      {},
      limits.map((l) => h('li', {}, words(l))),
    ),
  );
}

function integrationsView(projects) {
  return h(
    'div',
    {},
    h('p', {}, 'These projects have integrations that must be removed before they can move:'),
    h(
      'ul',
      {},
      projects.map((p) => h('li', {}, h('code', {}, p.id), ` (${p.integration})`)),
    ),
  );
}

/** 406 (plan limits) and 422 (integrations) explained in plain words; anything else mapped. */
function transferError(err) {
  const b = err.body || {};
  if (err.status === 406 && Array.isArray(b.limits)) {
    return h('div', { class: 'error', role: 'alert' }, limitsView(b.limits));
  }
  if (err.status === 422 && Array.isArray(b.projects)) {
    return h('div', { class: 'error', role: 'alert' }, integrationsView(b.projects));
  }
  return errorBox(err, 'transfer');
}
