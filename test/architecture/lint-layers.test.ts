// The lint refuses an upward import: ESLint, run with the repository's own config on a bottom-layer
// file whose text imports from above, reports import-x/no-restricted-paths; the same file as it is
// passes. Without this the layering rule could silently stop matching (a renamed folder, a bad glob).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(import.meta.dirname, '../..');
// The repository's config with only the layering rule on, and without type information: building
// the TypeScript program for the type-aware rules cost a minute on a loaded machine, and the
// layering rule (which resolves import paths itself) needs none of it.
const eslint = new ESLint({
  cwd: root,
  ruleFilter: ({ ruleId }) => ruleId === 'import-x/no-restricted-paths',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});

async function layerErrors(file: string, text: string): Promise<string[]> {
  const [result] = await eslint.lintText(text, { filePath: path.join(root, file) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'import-x/no-restricted-paths')
    .map((m) => m.message);
}

const upward: Array<[file: string, text: string]> = [
  [
    'src/domain/html.ts',
    "import { ErrorResponses } from '../http/common-schemas.ts';\nexport const x = ErrorResponses;\n",
  ],
  ['src/db/schema.ts', "import { AuditLog } from '../audit/audit.service.ts';\nexport const x = AuditLog;\n"],
  [
    'src/policy/actions.ts',
    "import { MembersService } from '../members/members.service.ts';\nexport const x = MembersService;\n",
  ],
  [
    'src/compute/runtime.ts',
    "import { ProjectsService } from '../projects/projects.service.ts';\nexport const x = ProjectsService;\n",
  ],
  [
    'src/auth/authenticator.ts',
    "import { ApiKeysService } from '../api-keys/api-keys.service.ts';\nexport const x = ApiKeysService;\n",
  ],
];

for (const [file, text] of upward) {
  test(`lint refuses an upward import in ${file}`, async () => {
    const errors = await layerErrors(file, text);
    assert.equal(errors.length, 1, `expected one layering error, got ${JSON.stringify(errors)}`);
  });
}

test('the same files as they are pass the layering rule', async () => {
  for (const [file] of upward) {
    assert.deepEqual(await layerErrors(file, fs.readFileSync(path.join(root, file), 'utf8')), [], file);
  }
});
