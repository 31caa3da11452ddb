// `orgplane mail list | show`: a local user reads the outbox and follows the link. In-process
// (run(argv, io)); the one real process is `mail list | head -n 1`, which must end quietly (EPIPE).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { DIALECT, testConfig } from '../../test/helpers/app.ts';
import { BIN, cliDatabase, cliWith, ROOT, type CliRun } from '../../test/helpers/cli.ts';
import { buildWorld } from '../../test/helpers/factories.ts';
import { createServices } from '../services.ts';
import { AuditContext } from '../audit/audit.ts';
import { run } from '../cli/run.ts';

const silent = { info: () => {}, warn: () => {}, error: () => {} };

describe(`mail CLI (${DIALECT})`, () => {
  let env: NodeJS.ProcessEnv = {};
  let dispose: () => Promise<void> = async () => {};
  let cli: (...args: string[]) => Promise<CliRun>;

  before(async () => {
    const made = await cliDatabase('mail-cli');
    ({ env, dispose } = made);
    const db = made.db;
    const s = createServices(db, testConfig(), silent);
    const w = await buildWorld(s);
    const principal = { kind: 'user' as const, userId: w.admin.id, keyId: w.admin.keyId };
    await s.invitations.create(
      principal,
      w.orgA.id,
      [{ email: 'cli-reader@example.com', role: 'member' }],
      AuditContext.operator(),
    );
    // Enough lines (over 100 KiB) that `| head -n 1` closes the pipe long before the list ends.
    for (let i = 0; i < 8; i++) {
      await s.invitations.create(
        principal,
        w.orgA.id,
        Array.from({ length: 100 }, (_, j) => ({
          email: `bulk-${i}-${j}@example.com`,
          role: 'member' as const,
        })),
        AuditContext.operator(),
      );
    }
    await s.stop();
    cli = cliWith(env);
  });
  after(async () => {
    await dispose();
  });

  test('`mail list` and `mail show ID` let a local user read the outbox and follow the link', async () => {
    const list = await cli('mail', 'list', '--limit', '10000');
    assert.equal(list.code, 0, list.stderr);
    const line = list.stdout.split('\n').find((l) => l.includes('cli-reader@example.com'));
    assert.ok(line, list.stdout.slice(0, 500));
    assert.match(line, /pending/);
    const id = line.split(/\s+/)[0] ?? '';
    const show = await cli('mail', 'show', id);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /To:\s+cli-reader@example\.com/);
    assert.match(show.stdout, /http:\/\/orgplane\.test\/invitations\/accept\?token=[A-Za-z0-9_-]+/);
    const missing = await cli('mail', 'show', 'nope');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'orgplane: message nope not found\n');
  });

  test('a reader that goes away (EPIPE) ends `mail list` quietly, in-process', async () => {
    let lines = 0;
    const stdout = new Writable({
      write(_chunk, _enc, done) {
        // The reader takes one line, then the pipe is closed.
        if (++lines > 1) done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        else done();
      },
    });
    let stderr = '';
    const code = await run(['mail', 'list', '--limit', '10000'], {
      env,
      stdout,
      stderr: { write: (s: string) => (stderr += s) },
    });
    assert.equal(code, 0);
    assert.equal(stderr, '');
    assert.ok(lines >= 2, 'the list went on past the first line, into the closed pipe');
  });

  test('`orgplane mail list | head -n 1` as processes: one line, nothing on stderr, exit 0', async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        'bash',
        // --norc: bash reads ~/.bashrc when its stdin looks like a remote shell's (a socket).
        [
          '--norc',
          '--noprofile',
          '-c',
          `set -o pipefail; "${process.execPath}" "${BIN}" mail list --limit 10000 | head -n 1`,
        ],
        { env, cwd: ROOT },
        (err, stdout, stderr) => {
          const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
          resolve({ code, stdout, stderr });
        },
      ),
    );
    assert.equal(r.stderr, '', 'no EPIPE stack trace');
    assert.equal(r.code, 0, 'the CLI exits 0 when its reader leaves');
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
  });
});
