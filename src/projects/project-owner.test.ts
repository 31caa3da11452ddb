// A project's owner is a member of its organization, whichever way the project is made: the
// projects service enforces it (the API, the CLI and every other caller go through it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { addMember, buildWorld, createOrgKey, createUser, type World } from '../../test/helpers/factories.ts';
import { assertMatchesSpec } from '../../test/helpers/spec.ts';
import { AuditContext } from '../audit/audit.ts';

describe('the owner of a project is a member of its organization', () => {
  let t: TestApp;
  let w: World;

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
  });
  after(() => t.close());

  const projectCount = async (orgId: string) =>
    (await t.db.kysely.selectFrom('projects').select('id').where('org_id', '=', orgId).execute()).length;

  test('API: an organization key whose creator has left cannot create projects (400, nothing created)', async () => {
    const leaver = await createUser(t.services, 'leaver');
    const row = await addMember(t.services, w.orgA.id, leaver, 'admin');
    const key = await createOrgKey(t.services, w.orgA.id, leaver);
    const made = await t.call('POST', '/api/v2/projects', {
      token: key.token,
      body: { project: { name: 'while-member', org_id: w.orgA.id } },
    });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.body.project.owner_id, leaver.id);

    await t.services.members.remove(
      { kind: 'user', userId: w.admin.id, keyId: w.admin.keyId },
      w.orgA.id,
      row.id,
      AuditContext.operator(),
    );
    const before = await projectCount(w.orgA.id);
    const refused = await t.call('POST', '/api/v2/projects', {
      token: key.token,
      body: { project: { name: 'after-leaving', org_id: w.orgA.id } },
    });
    assert.equal(refused.status, 400, refused.text);
    assertMatchesSpec('createProject', refused.status, refused.body);
    assert.match(
      refused.body.message,
      new RegExp(`user ${leaver.email} is not a member of organization ${w.orgA.id}`),
    );
    assert.equal(await projectCount(w.orgA.id), before, 'no project was created');
  });

  test('service: createRecord refuses an outsider as owner; a member, and a personal project, are fine', async () => {
    await assert.rejects(
      t.services.projects.createRecord(w.orgA.id, w.outsider.id, { name: 'sneaky' }),
      (err: Error) => /is not a member of organization/.test(err.message),
    );
    const ok = await t.services.projects.createRecord(w.orgA.id, w.member.id, { name: 'fine' });
    assert.equal(ok.project.owner_id, w.member.id);
    const personal = await t.services.projects.createRecord(null, w.outsider.id, { name: 'mine' });
    assert.equal(personal.project.org_id, null);
  });
});
