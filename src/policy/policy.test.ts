import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { render } from '../../scripts/gen-permissions.ts';
import { decide } from './index.ts';

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
