// Every curl from the product's seed about keys, organizations and members, copied verbatim below,
// run with the real curl binary against a listening orgplane. Only the host and the placeholders
// ({org_id}, $ORG_API_KEY, …) are substituted, as a user following the docs would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { buildTestApp, type TestApp } from './helpers/app.ts';
import { addMember, buildWorld, createOrgKey, createUser, type World } from './helpers/factories.ts';
import { assertMatchesSpec } from './helpers/spec.ts';

const run = promisify(execFile);

/** The seed's commands, exactly as printed (the trailing `| jq` dropped). */
const SEED = {
  listOrgApiKeys: `curl --request GET \\
     --url 'https://console.neon.tech/api/v2/organizations/{org_id}/api_keys' \\
     --header 'authorization: Bearer $PERSONAL_API_KEY'`,
  revokeOrgApiKey: `curl --request DELETE \\
     --url 'https://console.neon.tech/api/v2/organizations/{org_id}/api_keys/{key_id}' \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer $PERSONAL_API_KEY'`,
  getOrganization: `curl --request GET \\
     --url 'https://console.neon.tech/api/v2/organizations/{org_id}' \\
     --header 'authorization: Bearer $PERSONAL_API_KEY'`,
  getOrganizationMembers: `curl --request GET \\
     --url 'https://console.neon.tech/api/v2/organizations/{org_id}/members' \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer $ORG_API_KEY'`,
  getOrganizationMember: `curl --request GET \\
     --url 'https://console.neon.tech/api/v2/organizations/{org_id}/members/{member_id}' \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer $ORG_API_KEY'`,
  updateOrganizationMember: `curl --request PATCH \\
     --url 'https://console.neon.tech/api/v2/organizations/members/{member_id}' \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer $ORG_API_KEY' \\
     --header 'content-type: application/json' \\
     --data '{"role": "admin"}'`,
  removeOrganizationMember: `curl --request DELETE \\
     --url 'https://console.neon.tech/api/v2/organizations/{org_id}/members/{member_id}' \\
     --header 'accept: application/json' \\
     --header 'authorization: Bearer $PERSONAL_API_KEY'`,
} as const;

/** Splits one of the commands above into curl's argv (single-quoted words, line continuations). */
function argv(command: string): string[] {
  const words = command.replace(/\\\n/g, ' ').match(/'[^']*'|\S+/g) ?? [];
  assert.equal(words.shift(), 'curl');
  return words.map((w) => (w.startsWith("'") ? w.slice(1, -1) : w));
}

describe("the seed's curl commands, verbatim", () => {
  let t: TestApp;
  let w: World;
  let base: string;
  let vars: Record<string, string>;

  async function curl(
    name: keyof typeof SEED,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const all: Record<string, string> = { ...vars, ...extra };
    const args = argv(SEED[name]).map((a) =>
      a
        .replace('https://console.neon.tech', base)
        .replace(/\{(\w+)\}|\$([A-Z_]+)/g, (_m, p: string | undefined, v: string | undefined) => {
          const value = all[(p ?? v) as string];
          assert.ok(value !== undefined, `no value for ${p ?? v}`);
          return value;
        }),
    );
    const { stdout } = await run('curl', [
      '-sS',
      '--max-time',
      '10',
      '--write-out',
      '\n%{http_code}',
      ...args,
    ]);
    const cut = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, cut);
    return { status: Number(stdout.slice(cut + 1)), body: text ? JSON.parse(text) : undefined };
  }

  before(async () => {
    t = await buildTestApp();
    w = await buildWorld(t.services);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    vars = {
      org_id: w.orgA.id,
      member_id: w.memberRow.id,
      PERSONAL_API_KEY: w.admin.token,
      ORG_API_KEY: w.orgKeyA.token,
    };
  });
  after(() => t.close());

  test('the commands parse into the methods, headers and body the seed shows', () => {
    assert.deepEqual(argv(SEED.updateOrganizationMember), [
      '--request',
      'PATCH',
      '--url',
      'https://console.neon.tech/api/v2/organizations/members/{member_id}',
      '--header',
      'accept: application/json',
      '--header',
      'authorization: Bearer $ORG_API_KEY',
      '--header',
      'content-type: application/json',
      '--data',
      '{"role": "admin"}',
    ]);
  });

  test('list organization API keys (personal key)', async () => {
    const res = await curl('listOrgApiKeys');
    assert.equal(res.status, 200);
    assertMatchesSpec('listOrgApiKeys', res.status, res.body);
    assert.ok(Array.isArray(res.body) && res.body.some((k: { id: number }) => k.id === w.orgKeyA.id));
  });

  test('revoke an organization API key (personal key)', async () => {
    const key = await createOrgKey(t.services, w.orgA.id, w.admin);
    const res = await curl('revokeOrgApiKey', { key_id: String(key.id) });
    assert.equal(res.status, 200);
    assertMatchesSpec('revokeOrgApiKey', res.status, res.body);
    assert.deepEqual(
      { id: (res.body as { id: number }).id, revoked: (res.body as { revoked: boolean }).revoked },
      { id: key.id, revoked: true },
    );
    const after = await curl('getOrganization', { PERSONAL_API_KEY: key.token });
    assert.equal(after.status, 401);
  });

  test('get organization details (personal key)', async () => {
    const res = await curl('getOrganization');
    assert.equal(res.status, 200);
    assertMatchesSpec('getOrganization', res.status, res.body);
    assert.equal((res.body as { id: string }).id, w.orgA.id);
  });

  test('list members and get one member (organization key)', async () => {
    const list = await curl('getOrganizationMembers');
    assert.equal(list.status, 200);
    assertMatchesSpec('getOrganizationMembers', list.status, list.body);
    const ids = (list.body as { members: Array<{ member: { id: string } }> }).members.map((m) => m.member.id);
    assert.ok(ids.includes(w.memberRow.id) && ids.includes(w.adminMember.id));

    const one = await curl('getOrganizationMember');
    assert.equal(one.status, 200);
    assertMatchesSpec('getOrganizationMember', one.status, one.body);
    assert.equal((one.body as { user_id: string }).user_id, w.member.id);
  });

  test('update member role: PATCH /organizations/members/{member_id} with an organization key', async () => {
    const res = await curl('updateOrganizationMember');
    assert.equal(res.status, 200);
    assertMatchesSpec('updateOrganizationMember', res.status, res.body);
    assert.equal((res.body as { role: string }).role, 'admin');
    assert.equal((res.body as { org_id: string }).org_id, w.orgA.id);
    const stored = await curl('getOrganizationMember');
    assert.equal((stored.body as { role: string }).role, 'admin');
    // Another organization's key cannot reach this member.
    const foreign = await curl('updateOrganizationMember', { ORG_API_KEY: w.orgKeyB.token });
    assert.equal(foreign.status, 404);
  });

  test('remove member (personal key of an admin)', async () => {
    const leaving = await createUser(t.services, 'leaving');
    const row = await addMember(t.services, w.orgA.id, leaving, 'member');
    const res = await curl('removeOrganizationMember', { member_id: row.id });
    assert.equal(res.status, 200);
    assertMatchesSpec('removeOrganizationMember', res.status, res.body);
    const gone = await curl('getOrganizationMember', { member_id: row.id });
    assert.equal(gone.status, 404);
    // "Organization API keys are not supported."
    const viaOrgKey = await curl('removeOrganizationMember', {
      member_id: w.memberRow.id,
      PERSONAL_API_KEY: w.orgKeyA.token,
    });
    assert.equal(viaOrgKey.status, 403);
    assertMatchesSpec('removeOrganizationMember', viaOrgKey.status, viaOrgKey.body);
  });
});
