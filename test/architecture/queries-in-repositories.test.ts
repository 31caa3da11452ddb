// Every query lives in a *.repository.ts (executor first, the caller owns the transaction) or in
// src/db/: a query builder anywhere else in src/ fails this test. Scans the source text.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const src = path.resolve(import.meta.dirname, '../../src');
const QUERY = /\.(?:selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(|\bsql`/;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return p.includes(`${path.sep}console${path.sep}public`) ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

export function queriesOutsideRepositories(): string[] {
  return sourceFiles(src)
    .map((f) => path.relative(src, f).split(path.sep).join('/'))
    .filter((rel) => !rel.startsWith('db/') && !rel.endsWith('.repository.ts'))
    .filter((rel) => QUERY.test(fs.readFileSync(path.join(src, rel), 'utf8')));
}

test('the scan recognises a query builder', () => {
  assert.ok(QUERY.test("await trx.updateTable('projects').set(x)"));
  assert.ok(QUERY.test('await sql`select 1`.execute(db)'));
  assert.ok(!QUERY.test("const selectFromMenu = 'x';"));
});

test('no query builder outside *.repository.ts and src/db/', () => {
  assert.ok(sourceFiles(src).length > 50, 'the sources were read');
  assert.deepEqual(queriesOutsideRepositories(), []);
});
