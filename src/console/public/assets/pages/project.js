// One project: its branches as a tree (each with its parent), each branch's compute endpoint,
// databases and roles, and a connection string to copy, the password hidden until asked
// (reveal_password). Create, reset (to the parent's current data) and delete a branch where the
// project's own capabilities allow it (GET /projects/{id}/capabilities, action branch:write).
import { api } from '../api.js';
import { act, confirmDialog, copyText, errorBox, h, loadInto, promptDialog, time, toast } from '../ui.js';
import { emptyState, enc, orgName, page, projectCan, projectWhy, section } from '../context.js';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function projectPage(_orgId, _tab, r) {
  const id = r.projectId;
  const head = h('div', { id: 'project-head' });
  const branches = section('Branches', 'branches');
  const errors = h('div', { id: 'branches-error' });
  page('Project', head, errors, branches.el);
  const ctx = { id, pc: null, errors, reload: null };
  ctx.reload = () => loadInto(branches.body, 'branches', () => branchesView(ctx));
  loadInto(head, 'the project', async () => {
    const [res, pc] = await Promise.all([
      api('GET', `/projects/${enc(id)}`),
      api('GET', `/projects/${enc(id)}/capabilities`),
    ]);
    const p = res.project;
    ctx.pc = pc;
    ctx.project = p;
    document.title = `${p.name} · orgplane`;
    const h1 = document.querySelector('main h1');
    if (h1) h1.textContent = `Project ${p.name}`;
    ctx.reload();
    return h(
      'dl',
      { class: 'facts card' },
      h('dt', {}, 'Project ID'),
      h('dd', {}, h('code', { id: 'project-id' }, p.id)),
      h('dt', {}, 'Region'),
      h('dd', {}, p.region_id),
      h('dt', {}, 'PostgreSQL'),
      h('dd', {}, String(p.pg_version)),
      p.org_id ? [h('dt', {}, 'Organization'), h('dd', {}, p.org_name || orgName(p.org_id))] : null,
      h('dt', {}, 'Your access'),
      h(
        'dd',
        { id: 'project-access' },
        { CAN_VIEW: 'can view', CAN_EDIT: 'can edit', CAN_MANAGE: 'can manage' }[
          pc.effective_project_permission
        ] || (projectCan(pc, 'project:update') ? 'can edit' : 'can view'),
      ),
      h('dt', {}, 'Created'),
      h('dd', {}, time(p.created_at)),
    );
  });
}

/** The branches as a tree: children under their parent, the default branch first. */
async function branchesView(ctx) {
  const { id, pc } = ctx;
  const [b, e] = await Promise.all([
    api('GET', `/projects/${enc(id)}/branches`),
    api('GET', `/projects/${enc(id)}/endpoints`),
  ]);
  const list = b.branches || [];
  const endpoints = e.endpoints || [];
  if (list.length === 0) return emptyState('No branches', 'This project has no branches yet.');
  const known = new Set(list.map((x) => x.id));
  const children = new Map();
  for (const br of list) {
    const parent = br.parent_id && known.has(br.parent_id) ? br.parent_id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(br);
  }
  for (const arr of children.values())
    arr.sort(
      (a, c) => Number(Boolean(c.default)) - Number(Boolean(a.default)) || a.name.localeCompare(c.name),
    );
  const byId = new Map(list.map((x) => [x.id, x]));
  const canWrite = projectCan(pc, 'branch:write');
  const tree = (parent) =>
    h(
      'ul',
      { class: parent ? 'branch-children' : 'branch-tree' },
      (children.get(parent) || []).map((br) =>
        h(
          'li',
          {},
          branchCard(
            ctx,
            br,
            byId.get(br.parent_id),
            endpoints.filter((x) => x.branch_id === br.id),
          ),
          children.has(br.id) ? tree(br.id) : null,
        ),
      ),
    );
  return [
    canWrite
      ? null
      : h(
          'p',
          { class: 'hint', id: 'branches-read-only' },
          pc && pc.actions['branch:write']
            ? projectWhy(pc, 'branch:write')
            : 'Branches are read-only on this server.',
        ),
    tree(null),
  ];
}

function branchCard(ctx, br, parent, endpoints) {
  const { id, pc, errors } = ctx;
  const canWrite = projectCan(pc, 'branch:write');
  const details = h('div', { class: 'branch-details' });
  const ep = endpoints[0];
  const card = h(
    'article',
    { class: 'branch card', id: `branch-${br.id}`, 'aria-labelledby': `bh-${br.id}` },
    h(
      'header',
      { class: 'row spaced' },
      h(
        'h3',
        { id: `bh-${br.id}` },
        br.name,
        br.default ? h('span', { class: 'badge' }, 'default') : null,
        br.protected ? h('span', { class: 'badge warn' }, 'protected') : null,
      ),
      h(
        'div',
        { class: 'row' },
        canWrite
          ? h(
              'button',
              {
                type: 'button',
                class: 'small',
                'aria-label': `New branch from ${br.name}`,
                onclick: () => createBranch(ctx, br),
              },
              'New branch',
            )
          : null,
        canWrite && parent
          ? h(
              'button',
              {
                type: 'button',
                class: 'small',
                'aria-label': `Reset ${br.name} to ${parent.name}`,
                onclick: async (e) => {
                  const yes = await confirmDialog({
                    title: `Reset “${br.name}” to its parent?`,
                    message: `${br.name} gets the current data of ${parent.name}. Its own changes are lost; connections to it are cut.`,
                    confirmLabel: 'Reset branch',
                  });
                  if (!yes) return;
                  const res = await act(
                    e.currentTarget,
                    errors,
                    () =>
                      api('POST', `/projects/${enc(id)}/branches/${enc(br.id)}/restore`, {
                        source_branch_id: parent.id,
                      }),
                    'Resetting…',
                    'branch',
                  );
                  if (res === undefined) return;
                  await settle(id, res);
                  toast(`Branch ${br.name} now has the data of ${parent.name}.`);
                  ctx.reload();
                },
              },
              'Reset',
            )
          : null,
        canWrite && !br.default
          ? h(
              'button',
              {
                type: 'button',
                class: 'small danger',
                'aria-label': `Delete branch ${br.name}`,
                onclick: async (e) => {
                  const yes = await confirmDialog({
                    title: `Delete branch “${br.name}”?`,
                    message:
                      'Its data, compute endpoint and connection strings are gone for good. This cannot be undone.',
                    confirmLabel: 'Delete branch',
                  });
                  if (!yes) return;
                  const res = await act(
                    e.currentTarget,
                    errors,
                    () => api('DELETE', `/projects/${enc(id)}/branches/${enc(br.id)}`),
                    'Deleting…',
                    'branch',
                  );
                  if (res === undefined) return;
                  await settle(id, res);
                  toast(`Branch ${br.name} deleted.`);
                  ctx.reload();
                },
              },
              'Delete',
            )
          : null,
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Branch ID'),
      h('dd', {}, h('code', {}, br.id)),
      h('dt', {}, 'Parent'),
      h('dd', {}, parent ? parent.name : '—'),
      h('dt', {}, 'Compute'),
      h(
        'dd',
        {},
        ep
          ? [h('code', {}, ep.host), ' ', h('span', { class: 'badge' }, ep.current_state || 'idle')]
          : h('span', { class: 'hint' }, 'no endpoint'),
      ),
      h('dt', {}, 'Created'),
      h('dd', {}, time(br.created_at)),
    ),
    details,
  );
  loadInto(details, 'databases and roles', () => branchData(ctx, br, ep));
  return card;
}

/** Databases, roles and the connection string (password hidden until asked). */
async function branchData(ctx, br, ep) {
  const { id, pc } = ctx;
  const base = `/projects/${enc(id)}/branches/${enc(br.id)}`;
  const [d, r] = await Promise.all([api('GET', `${base}/databases`), api('GET', `${base}/roles`)]);
  const dbs = d.databases || [];
  const roles = r.roles || [];
  const out = [
    h(
      'p',
      { class: 'small-list' },
      h('strong', {}, 'Databases: '),
      dbs.length ? dbs.map((x) => x.name).join(', ') : 'none',
      h('br', {}),
      h('strong', {}, 'Roles: '),
      roles.length ? roles.map((x) => x.name).join(', ') : 'none',
    ),
  ];
  if (!ep || dbs.length === 0 || roles.length === 0) return out;
  if (!projectCan(pc, 'project:connection_read')) {
    out.push(h('p', { class: 'hint' }, projectWhy(pc, 'project:connection_read')));
    return out;
  }
  const dbSel = h(
    'select',
    { id: `cs-db-${br.id}` },
    dbs.map((x) => h('option', { value: x.name }, x.name)),
  );
  const roleSel = h(
    'select',
    { id: `cs-role-${br.id}` },
    roles.map((x) => h('option', { value: x.name }, x.name)),
  );
  const shown = h('input', {
    id: `cs-${br.id}`,
    class: 'token',
    readonly: true,
    'aria-label': `Connection string of ${br.name}`,
  });
  const status = h('span', { role: 'status', class: 'success' });
  let revealed = false;
  const uri = () =>
    api(
      'GET',
      `/projects/${enc(id)}/connection_uri?branch_id=${enc(br.id)}&database_name=${enc(dbSel.value)}&role_name=${enc(roleSel.value)}`,
    ).then((x) => x.uri);
  // Until someone asks, the string is built here without the password: none is fetched.
  const masked = async () =>
    `postgresql://${encodeURIComponent(roleSel.value)}:********@${ep.host}/${encodeURIComponent(dbSel.value)}?sslmode=require&channel_binding=require`;
  const refresh = async () => {
    shown.value = revealed ? await uri() : await masked();
  };
  const reveal = h(
    'button',
    {
      type: 'button',
      class: 'small',
      'aria-pressed': 'false',
      onclick: async (e) => {
        const button = e.currentTarget;
        if (revealed) {
          revealed = false;
          button.textContent = 'Show password';
          button.setAttribute('aria-pressed', 'false');
          return refresh();
        }
        // Asked for explicitly: the role's password from reveal_password, then the full string.
        const ok = await act(
          button,
          ctx.errors,
          () =>
            api(
              'GET',
              `/projects/${enc(id)}/branches/${enc(br.id)}/roles/${enc(roleSel.value)}/reveal_password`,
            ),
          null,
          'reveal',
        );
        if (ok === undefined) return;
        revealed = true;
        button.textContent = 'Hide password';
        button.setAttribute('aria-pressed', 'true');
        await refresh();
      },
    },
    'Show password',
  );
  dbSel.addEventListener('change', refresh);
  roleSel.addEventListener('change', refresh);
  out.push(
    h(
      'div',
      { class: 'connection' },
      h(
        'div',
        { class: 'row' },
        h('label', { for: dbSel.id }, 'Database'),
        dbSel,
        h('label', { for: roleSel.id }, 'Role'),
        roleSel,
      ),
      h('label', { for: shown.id }, 'Connection string'),
      shown,
      h(
        'div',
        { class: 'row' },
        reveal,
        h(
          'button',
          {
            type: 'button',
            class: 'small primary',
            'aria-label': `Copy the connection string of ${br.name}`,
            onclick: async () => copyText(await uri(), status),
          },
          'Copy',
        ),
        status,
      ),
    ),
  );
  await refresh().catch((err) => out.push(errorBox(err)));
  return out;
}

async function createBranch(ctx, parent) {
  const { id, errors } = ctx;
  const name = await promptDialog({
    title: `New branch from “${parent.name}”`,
    label: 'Branch name',
    hint: `It starts with the current data of ${parent.name} and gets its own compute endpoint.`,
    confirmLabel: 'Create branch',
    maxlength: 256,
    submit: async (value, slot) => {
      const res = await act(
        null,
        slot,
        () =>
          api('POST', `/projects/${enc(id)}/branches`, {
            branch: { parent_id: parent.id, name: value },
            endpoints: [{ type: 'read_write' }],
          }),
        null,
        'branch',
      );
      if (res === undefined) return false;
      await settle(id, res);
      return true;
    },
  });
  if (name === null) return;
  errors.replaceChildren();
  toast(`Branch ${name} created from ${parent.name}.`);
  ctx.reload();
}

/** Waits (a bounded number of reads) for the operations an answer started to finish. */
async function settle(projectId, res) {
  const ops = (res && res.operations) || [];
  for (const op of ops) {
    for (let i = 0; i < 40; i++) {
      const s = await api('GET', `/projects/${enc(projectId)}/operations/${enc(op.id)}`).catch(() => null);
      const status = s && s.operation && s.operation.status;
      if (!status || status === 'finished' || status === 'failed' || status === 'error') break;
      await pause(250);
    }
  }
}
