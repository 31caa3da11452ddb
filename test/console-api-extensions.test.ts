// The API extensions the console relies on to be honest and to follow the capability that
// applies: organization rename, per-project capabilities, the audit log's action list and key
// names, what a claim link offers, and invitations whose email has not been delivered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { addMember, buildWorld, createUser, type World } from './helpers/factories.ts';

describe('console API extensions', () => {
  let t: TestApp;
  let w: World;
  before(async () => {
    // No SMTP_URL: mail stays in the outbox.
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const org = () => `/api/v2/organizations/${w.orgA.id}`;

  test('PATCH /organizations/{id} with name: admins rename, audited from → to; others refused', async () => {
    const ok = await t.call('PATCH', org(), { token: w.admin.token, body: { name: '  Org A renamed ' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.name, 'Org A renamed');
    const got = await t.call('GET', org(), { token: w.member.token });
    assert.equal(got.body.name, 'Org A renamed');
    const log = await t.call('GET', `${org()}/audit_log?action=organization.updated`, {
      token: w.admin.token,
    });
    assert.deepEqual(log.body.events[0].changes, { name: { from: 'Org A', to: 'Org A renamed' } });

    const member = await t.call('PATCH', org(), { token: w.member.token, body: { name: 'Mine' } });
    assert.equal(member.status, 403, member.text);
    assert.match(member.body.message, /only organization admins/);
    const key = await t.call('PATCH', org(), { token: w.orgKeyA.token, body: { name: 'Key' } });
    assert.equal(key.status, 403, key.text);
    const outsider = await t.call('PATCH', org(), { token: w.outsider.token, body: { name: 'X' } });
    assert.equal(outsider.status, 404, outsider.text);
    assert.equal((await t.call('GET', org(), { token: w.admin.token })).body.name, 'Org A renamed');
  });

  test('PATCH /organizations/{id}: never a silent 200 (empty body, unknown field, blank name)', async () => {
    const empty = await t.call('PATCH', org(), { token: w.admin.token, body: {} });
    assert.equal(empty.status, 400, empty.text);
    assert.match(empty.body.message, /nothing to change: send name or max_api_key_lifetime_days/);
    const unknown = await t.call('PATCH', org(), { token: w.admin.token, body: { plan: 'enterprise' } });
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.body.message, /^plan cannot be changed here/);
    const blank = await t.call('PATCH', org(), { token: w.admin.token, body: { name: '   ' } });
    assert.equal(blank.status, 400, blank.text);
    const long = await t.call('PATCH', org(), { token: w.admin.token, body: { name: 'x'.repeat(257) } });
    assert.equal(long.status, 400, long.text);
    assert.equal((await t.call('GET', org(), { token: w.admin.token })).body.name, 'Org A renamed');
  });

  test('GET /projects/{id}/capabilities follows the grant: a viewer with a share may edit that project', async () => {
    const viewer = await createUser(t.services, 'viewer');
    await addMember(t.services, w.orgA.id, viewer, 'viewer');
    const caps = async (token: string, id = w.projectA1) =>
      t.call('GET', `/api/v2/projects/${id}/capabilities`, { token });
    const before = await caps(viewer.token);
    assert.equal(before.status, 200, before.text);
    assert.equal(before.body.effective_project_permission, 'CAN_VIEW');
    assert.equal(before.body.actions['project:update'].allowed, false);
    assert.equal(before.body.actions['project:read'].allowed, true);
    const grant = await t.call('POST', `/api/v2/projects/${w.projectA1}/permissions`, {
      token: w.admin.token,
      body: { email: viewer.email },
    });
    assert.equal(grant.status, 200, grant.text);
    const after = await caps(viewer.token);
    assert.equal(after.body.effective_project_permission, 'CAN_EDIT');
    for (const a of ['project:update', 'project_permission:grant', 'project:connection_read']) {
      assert.equal(after.body.actions[a].allowed, true, a);
    }
    assert.equal(after.body.actions['project:delete'].allowed, false);
    // ... and the API agrees with what it said.
    const rename = await t.call('PATCH', `/api/v2/projects/${w.projectA1}`, {
      token: viewer.token,
      body: { project: { name: 'renamed by viewer' } },
    });
    assert.equal(rename.status, 200, rename.text);
    const other = await caps(viewer.token, w.projectA2);
    assert.equal(other.body.actions['project:update'].allowed, false);
    // Admins manage; outsiders learn nothing.
    assert.equal((await caps(w.admin.token)).body.effective_project_permission, 'CAN_MANAGE');
    assert.equal((await caps(w.outsider.token)).status, 404);
  });

  test('audit log: the list of recorded actions (admins only) and key names beside key ids', async () => {
    const created = await t.call('POST', `${org()}/api_keys`, {
      token: w.admin.token,
      body: { key_name: 'ci deploy' },
    });
    assert.equal(created.status, 200, created.text);
    // The new key acts (a refused invitation is recorded too).
    const acted = await t.call('POST', '/api/v2/projects', {
      token: created.body.key,
      body: { project: { name: 'by key' } },
    });
    assert.equal(acted.status, 201, acted.text);
    const actions = await t.call('GET', `${org()}/audit_log/actions`, { token: w.admin.token });
    assert.equal(actions.status, 200, actions.text);
    assert.ok(actions.body.actions.includes('organization.updated'), actions.text);
    assert.ok(actions.body.actions.includes('project.created'), actions.text);
    assert.deepEqual([...actions.body.actions].sort(), actions.body.actions);
    const member = await t.call('GET', `${org()}/audit_log/actions`, { token: w.member.token });
    assert.equal(member.status, 403, member.text);

    const log = await t.call('GET', `${org()}/audit_log?action=project.created`, { token: w.admin.token });
    const byKey = log.body.events.find((e: { actor: { type: string } }) => e.actor.type === 'api_key');
    assert.ok(byKey, log.text);
    assert.equal(byKey.actor.id, String(created.body.id));
    assert.equal(byKey.actor.name, 'ci deploy');
  });

  test('GET /projects/{id}/transfer_requests/{id}: what a claim link offers, then used', async () => {
    const made = await t.call('POST', `/api/v2/projects/${w.projectA2}/transfer_requests`, {
      token: w.admin.token,
      body: {},
    });
    assert.equal(made.status, 201, made.text);
    const path = `/api/v2/projects/${w.projectA2}/transfer_requests/${made.body.id}`;
    const view = await t.call('GET', path, { token: w.outsider.token });
    assert.equal(view.status, 200, view.text);
    assert.equal(view.body.status, 'pending');
    assert.equal(view.body.project_name, 'a2');
    assert.equal(view.body.source_org_id, w.orgA.id);
    assert.equal(view.body.source_org_name, 'Org A renamed');
    assert.equal(view.body.created_by_email, w.admin.email);
    assert.equal(view.body.expires_at, made.body.expires_at);
    const accept = await t.call('PUT', path, { token: w.outsider.token, body: { org_id: w.orgB.id } });
    assert.equal(accept.status, 204, accept.text);
    const used = await t.call('GET', path, { token: w.outsider.token });
    assert.equal(used.body.status, 'accepted');
    assert.ok(used.body.accepted_at);
    const wrong = await t.call('GET', `/api/v2/projects/${w.projectA1}/transfer_requests/${made.body.id}`, {
      token: w.outsider.token,
    });
    assert.equal(wrong.status, 404);
  });

  test('invitations without SMTP: the API says the email was not sent and gives admins the link', async () => {
    const caps = await t.call('GET', `${org()}/capabilities`, { token: w.admin.token });
    assert.deepEqual(caps.body.mail, { smtp_configured: false });
    const res = await t.call('POST', `${org()}/invitations`, {
      token: w.admin.token,
      body: { invitations: [{ email: 'new-person@example.com', role: 'member' }] },
    });
    assert.equal(res.status, 200, res.text);
    const inv = res.body.invitations[0];
    assert.equal(inv.email_status, 'pending');
    assert.match(inv.email_error, /not configured.*SMTP_URL/);
    assert.match(inv.join_url, /^http.*\/invitations\/accept\?token=[A-Za-z0-9_-]{20,}/);
    const page = await t.call('GET', new URL(inv.join_url).pathname + new URL(inv.join_url).search);
    assert.equal(page.status, 200, 'the link works');
    // Members may list invitations but get no links.
    const list = await t.call('GET', `${org()}/invitations`, { token: w.member.token });
    const seen = list.body.invitations.find((i: { id: string }) => i.id === inv.id);
    assert.equal(seen.join_url, undefined);
    assert.equal(seen.email_error, undefined);
    const adminList = await t.call('GET', `${org()}/invitations`, { token: w.admin.token });
    assert.equal(
      adminList.body.invitations.find((i: { id: string }) => i.id === inv.id).join_url,
      inv.join_url,
    );
    // Resending mints a new link: the old one stops working and the new one is shown.
    const resent = await t.call('POST', `${org()}/invitations/${inv.id}/resend`, { token: w.admin.token });
    assert.equal(resent.status, 200, resent.text);
    assert.notEqual(resent.body.join_url, inv.join_url);
    assert.match(resent.body.join_url, /token=/);
  });
});
