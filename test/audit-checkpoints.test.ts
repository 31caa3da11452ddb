// Signed checkpoints: what someone with write access to the database can do to the audit log
// without breaking its hash chains (verify alone says "ok"), and that verifying against the
// checkpoints exported before catches each of them: a vanished chain, a truncated chain with its
// head rewound, an edited event with every later hash recomputed, and a fake prune.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { eventHash } from '../src/audit/audit.ts';
import { KEY_FILE, readCheckpointFile } from '../src/audit/checkpoints.ts';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';
import { createUser } from './helpers/factories.ts';

describe(`audit checkpoints (${DIALECT})`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-cp-'));
  const file = path.join(dir, 'exported', 'checkpoints.jsonl');
  let t: TestApp;
  const orgs: string[] = [];

  before(async () => {
    t = await buildTestApp({ dataDir: dir, auditCheckpointFile: file });
    const admin = await createUser(t.services, 'cp-admin');
    for (let i = 0; i < 4; i++) {
      const org = await t.services.organizations.createWithAdmin(admin.id, { name: `cp-${i}` });
      for (let k = 0; k < 4; k++) await t.services.apiKeys.createOrgFor(admin.id, org.id, `k${k}`);
      orgs.push(org.id);
    }
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const chainOf = (i: number) => `org:${orgs[i]}`;
  const events = (chain: string) =>
    t.db.kysely.selectFrom('audit_events').selectAll().where('chain', '=', chain).orderBy('seq').execute();
  const verifyOk = async (chain: string) => assert.equal((await t.services.audit.verify(chain)).ok, true);

  test('the key lives outside the database (0600 file); checkpoints are exported as made and verify', async () => {
    await t.services.audit.checkpoint();
    const keyFile = path.join(dir, KEY_FILE);
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const list = readCheckpointFile(file);
    assert.equal(list.length, 1);
    assert.ok(list[0]?.checkpoint.chains.some((c) => c.chain === chainOf(0)));
    assert.deepEqual(await t.services.audit.checkCheckpoints(list), []);
    // Later appends are fine: the chain grew past the checkpoint.
    const admin = await createUser(t.services, 'cp-late');
    await t.services.organizations.createWithAdmin(admin.id, { name: 'late' });
    assert.deepEqual(await t.services.audit.checkCheckpoints(list), []);
    // Another key's signature (or an edited checkpoint) is not trusted.
    const other = generateKeyPairSync('ed25519').publicKey;
    assert.equal((await t.services.audit.checkCheckpoints(list, other))[0]?.chain, '*');
    const forged = structuredClone(list);
    const c0 = forged[0]?.checkpoint.chains[0];
    assert.ok(c0);
    c0.seq = 1;
    assert.match((await t.services.audit.checkCheckpoints(forged))[0]?.problem ?? '', /bad signature/);
  });

  test('tampering that keeps the hash chains intact is caught by the checkpoints', async () => {
    const k = t.db.kysely;
    // Chain 3 grows after the first checkpoint; a second one sees it (as the server's timer would).
    const admin = await createUser(t.services, 'cp-more');
    for (let i = 0; i < 3; i++) await t.services.apiKeys.createOrgFor(admin.id, orgs[3] ?? '', `more${i}`);
    await t.services.audit.checkpoint();
    const list = readCheckpointFile(file);

    // 1. A vanished chain: its head and events deleted.
    await k.deleteFrom('audit_events').where('chain', '=', chainOf(0)).execute();
    await k.deleteFrom('audit_chains').where('chain', '=', chainOf(0)).execute();
    assert.deepEqual(await t.services.audit.verify(chainOf(0)), { ok: true, chain: chainOf(0), events: 0 });

    // 2. Truncation: the newest two events deleted and the head rewound onto the third newest.
    const e1 = await events(chainOf(1));
    const keep = e1[e1.length - 3];
    assert.ok(keep);
    await k.deleteFrom('audit_events').where('chain', '=', chainOf(1)).where('seq', '>', keep.seq).execute();
    await k
      .updateTable('audit_chains')
      .set({ seq: keep.seq, head_hash: keep.hash })
      .where('chain', '=', chainOf(1))
      .execute();
    await verifyOk(chainOf(1));

    // 3. A rewrite: the second event edited and every later hash recomputed, head included.
    let prev = '';
    for await (const e of t.services.audit.scan(chainOf(2))) {
      const { hash: _old, ...body } = e;
      if (e.seq === 2) body.action = 'organization.nothing_happened';
      if (prev) body.prev_hash = prev;
      const hash = eventHash(body);
      await k
        .updateTable('audit_events')
        .set({ action: body.action, prev_hash: body.prev_hash, hash })
        .where('id', '=', e.id)
        .execute();
      prev = hash;
    }
    await k.updateTable('audit_chains').set({ head_hash: prev }).where('chain', '=', chainOf(2)).execute();
    await verifyOk(chainOf(2));

    // 4. A fake prune: recent events deleted and the anchor moved onto the last one deleted.
    const e3 = await events(chainOf(3));
    const cut = e3[e3.length - 2];
    assert.ok(cut);
    await k.deleteFrom('audit_events').where('chain', '=', chainOf(3)).where('seq', '<=', cut.seq).execute();
    await k
      .updateTable('audit_chains')
      .set({ anchor_seq: cut.seq, anchor_hash: cut.hash })
      .where('chain', '=', chainOf(3))
      .execute();
    await verifyOk(chainOf(3));

    const problems = await t.services.audit.checkCheckpoints(list);
    const about = (i: number) => problems.filter((p) => p.chain === chainOf(i)).map((p) => p.problem);
    assert.match(about(0).join(), /vanished/);
    assert.match(about(1).join(), /truncated/);
    assert.match(about(2).join(), /rewritten/);
    assert.match(about(3).join(), /fake prune/);
    // A prune is legitimate once the checkpointed position is older than the retention period.
    const later = Date.now() + (t.config.auditRetentionDays + 1) * 86_400_000;
    const aged = await t.services.audit.checkCheckpoints(list, undefined, later);
    assert.deepEqual(
      aged.filter((p) => p.chain === chainOf(3)),
      [],
    );
  });
});
