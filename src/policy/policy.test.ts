import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { render } from '../../scripts/gen-permissions.ts';
import { decide, projectPermissionLevel } from './index.ts';

test('docs/permissions.md is generated from the policy and up to date', () => {
  const committed = fs.readFileSync(new URL('../../docs/permissions.md', import.meta.url), 'utf8');
  assert.equal(committed, render(), 'run `npm run docs:permissions` and commit docs/permissions.md');
});

test('outsiders get 404, members 403 on admin actions, org keys the message clients match on', () => {
  assert.deepEqual(decide('member:update', { kind: 'user', role: null }), {
    allow: false,
    code: 'NOT_FOUND',
    message: 'organization not found',
    rule: 'member:update: not a member (hidden as not found)',
  });
  assert.equal(decide('member:update', { kind: 'user', role: 'member' }).allow, false);
  assert.equal(decide('member:update', { kind: 'org_key', sameOrg: true }).allow, true);
  const d = decide('member:remove', { kind: 'org_key', sameOrg: true });
  assert.ok(!d.allow && d.message === 'not allowed for organization API keys');
  const p = decide('organization:read', { kind: 'project_key', sameOrg: true });
  assert.ok(!p.allow && p.code === 'FORBIDDEN' && p.message.includes('project-scoped'));
  assert.equal(
    decide('project:read', { kind: 'project_key', sameOrg: true, sameProject: false }).allow,
    false,
  );
});

/** The decision without its rule clause (the clauses are checked by access/explain tests). */
function withoutRule(...args: Parameters<typeof decide>): Record<string, unknown> {
  const { rule: _rule, ...rest } = decide(...args);
  return rest;
}

test('every role: refusals say why; grants decide project rows only; collaborators without one get 404', () => {
  assert.deepEqual(withoutRule('project:update', { kind: 'user', role: 'viewer', shared: false }), {
    allow: false,
    code: 'FORBIDDEN',
    message:
      'viewers have read-only access: only organization admins, members and editors (and users the project is shared with) can update projects',
  });
  assert.deepEqual(withoutRule('member:list', { kind: 'user', role: 'collaborator' }), {
    allow: false,
    code: 'FORBIDDEN',
    message:
      'collaborators have no organization-level access: only organization admins, members, editors and viewers can list members',
  });
  assert.deepEqual(withoutRule('project:read', { kind: 'user', role: 'collaborator', shared: false }), {
    allow: false,
    code: 'NOT_FOUND',
    message: 'project not found',
  });
  assert.equal(decide('project:read', { kind: 'user', role: 'collaborator', shared: true }).allow, true);
  assert.equal(decide('project:update', { kind: 'user', role: null, shared: true }).allow, true);
  // A grant holder who may see the project but not delete it is told so (403), not 404.
  const del = decide('project:delete', { kind: 'user', role: null, shared: true });
  assert.ok(
    !del.allow && del.code === 'FORBIDDEN' && del.message === 'only organization admins can delete projects',
  );
  // A grant changes nothing at the organization level.
  assert.equal(decide('organization:read', { kind: 'user', role: null, shared: true }).allow, false);
  assert.equal(
    decide('project_permission:grant', { kind: 'user', role: 'editor', shared: false }).allow,
    false,
  );
  assert.equal(decide('project_permission:grant', { kind: 'user', role: 'member' }).allow, true);
});

test('effective_project_permission is read off the same rules', () => {
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'admin' }), 'CAN_MANAGE');
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'member' }), 'CAN_EDIT');
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'editor' }), 'CAN_EDIT');
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'viewer', shared: false }), 'CAN_VIEW');
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'viewer', shared: true }), 'CAN_EDIT');
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'collaborator', shared: true }), 'CAN_EDIT');
  assert.equal(projectPermissionLevel({ kind: 'user', role: 'collaborator', shared: false }), undefined);
  assert.equal(projectPermissionLevel({ kind: 'org_key', sameOrg: true }), undefined);
});
