// Refusals land in the caller's own chain unless the caller is related to the target
// organization: org B's key cannot write into org A's audit log by being refused there.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';
import { buildWorld, type World } from './helpers/factories.ts';

let t: TestApp;
let w: World;
before(async () => {
  t = await buildTestApp();
  w = await buildWorld(t.services);
});
after(() => t.close());

const count = async (chain: string) =>
  (await t.db.kysely.selectFrom('audit_events').select('id').where('chain', '=', chain).execute()).length;

test(`refusals by outsiders go to their own chain, not the target's (${DIALECT})`, async () => {
  const a0 = await count(`org:${w.orgA.id}`);
  const b0 = await count(`org:${w.orgB.id}`);
  for (let i = 0; i < 3; i++) {
    const r = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
      token: w.orgKeyB.token,
      body: { key_name: 'x' },
    });
    assert.ok(r.status >= 400 && r.status < 500, r.text);
  }
  assert.equal(await count(`org:${w.orgA.id}`), a0, "nothing in A's chain");
  assert.equal(await count(`org:${w.orgB.id}`), b0 + 3, "in B's (the caller's) chain");
  // A member refused in its own organization is still recorded there (its admins see who tried).
  const m = await t.call('POST', `/api/v2/organizations/${w.orgA.id}/api_keys`, {
    token: w.member.token,
    body: { key_name: 'x' },
  });
  assert.equal(m.status, 403);
  assert.equal(await count(`org:${w.orgA.id}`), a0 + 1);
});
