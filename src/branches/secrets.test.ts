// Role passwords are stored sealed with the server key, never in plain text; plain values left
// by earlier versions and values under an older key are resealed at start (a full pass only when the
// key changed since the last one); the key file is 0600.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SecretBox } from '../domain/secret-box.ts';
import { loadSecretBox } from '../secret-key.ts';
import { buildTestApp, type TestApp } from '../../test/helpers/app.ts';
import { createOrg, createUser } from '../../test/helpers/factories.ts';
import { sealStoredPasswords } from './reconcile.ts';

describe('sealed role passwords', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp();
  });
  after(async () => {
    await t.close();
  });

  test('seal and open; a changed byte or another key is refused', () => {
    const box = new SecretBox(Buffer.alloc(32, 1));
    const sealed = box.seal('npg_secret');
    assert.ok(SecretBox.isSealed(sealed));
    assert.ok(!sealed.includes('npg_secret'));
    assert.equal(box.open(sealed), 'npg_secret');
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    assert.throws(() => box.open(tampered));
    assert.throws(() => new SecretBox(Buffer.alloc(32, 2)).open(sealed), /server key/);
    assert.equal(new SecretBox(Buffer.alloc(32, 2), [Buffer.alloc(32, 1)]).open(sealed), 'npg_secret');
  });

  test('the key file is made once with mode 0600', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-key-'));
    try {
      const a = loadSecretBox({ dataDir: dir, secret: undefined, previousSecrets: [] });
      const b = loadSecretBox({ dataDir: dir, secret: undefined, previousSecrets: [] });
      assert.equal(a.currentKeyId, b.currentKeyId);
      assert.equal(fs.statSync(path.join(dir, 'secret.key')).mode & 0o777, 0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stored sealed; plain legacy values and older keys are resealed at start', async () => {
    const admin = await createUser(t.services, 'admin');
    const org = await createOrg(t.services, admin);
    const res = await t.call('POST', '/api/v2/projects', {
      token: admin.token,
      body: { project: { name: 'p', org_id: org.id } },
    });
    assert.equal(res.status, 201);
    const password = res.body.roles[0].password as string;
    const k = t.db.kysely;
    const row = await k
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', res.body.project.id)
      .executeTakeFirstOrThrow();
    assert.ok(
      row.role_password && SecretBox.isSealed(row.role_password) && !row.role_password.includes(password),
    );
    const role = await k
      .selectFrom('branch_roles')
      .selectAll()
      .where('branch_id', '=', row.branch_id)
      .executeTakeFirstOrThrow();
    assert.ok(role.password_enc && !role.password_enc.includes(password));

    // A value stored in plain text before sealing: still revealed, and sealed at the first start of
    // this version (no reseal recorded yet: a database from before migration 0014).
    await k
      .updateTable('projects')
      .set({ role_password: 'npg_legacyplain' })
      .where('id', '=', row.id)
      .execute();
    const reveal = `/api/v2/projects/${row.id}/branches/${row.branch_id}/roles/${row.role_name}/reveal_password`;
    assert.equal((await t.call('GET', reveal, { token: admin.token })).body.password, 'npg_legacyplain');
    await k.deleteFrom('secret_reseals').execute();
    assert.ok((await sealStoredPasswords(t.db, t.services.secrets)) >= 1);
    const after1 = await k
      .selectFrom('projects')
      .select('role_password')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    assert.ok(after1.role_password && SecretBox.isSealed(after1.role_password));
    assert.equal((await t.call('GET', reveal, { token: admin.token })).body.password, 'npg_legacyplain');

    // Rotation: a new key with the old one as previous reseals everything under the new key.
    const rotated = new SecretBox(Buffer.alloc(32, 9), [Buffer.from(t.config.secret ?? '', 'hex')]);
    assert.ok((await sealStoredPasswords(t.db, rotated)) >= 2);
    const after2 = await k
      .selectFrom('projects')
      .select('role_password')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    assert.equal(SecretBox.keyIdOf(after2.role_password ?? ''), rotated.currentKeyId);
    assert.equal(rotated.open(after2.role_password ?? ''), 'npg_legacyplain');
    assert.equal(await sealStoredPasswords(t.db, rotated), 0);

    // With the key unchanged since the last complete pass, a start reads no project: a value planted
    // under the old key stays as it is (nothing but another process on the old key could write one).
    const planted = t.services.secrets.seal('npg_planted');
    await k.updateTable('projects').set({ role_password: planted }).where('id', '=', row.id).execute();
    assert.equal(await sealStoredPasswords(t.db, rotated), 0);
    const after3 = await k
      .selectFrom('projects')
      .select('role_password')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    assert.equal(after3.role_password, planted);
    const recorded = await k.selectFrom('secret_reseals').selectAll().execute();
    assert.deepEqual(
      recorded.map((r) => [r.id, r.key_id]),
      [[1, rotated.currentKeyId]],
    );
  });
});
