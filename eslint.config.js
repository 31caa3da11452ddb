// Type-aware lint for src, tests and scripts. Exceptions are inline, with a reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

// Imports run one way (app → routes → services → repositories → db). The bottom folders import
// nothing above them; http/ and auth/ reach features only through their repositories.
// test/architecture/lint-layers.test.ts proves an upward import fails the lint.
const ABOVE_FEATURE_REPOSITORIES = [
  './src/*/*.service.ts',
  './src/*/*.routes.ts',
  './src/*/*.presenter.ts',
  './src/*/*.pages.ts',
  './src/*/*.schemas.ts',
  './src/*/*.mail.ts',
  './src/{app,routes,services,main}.ts',
  './src/cli/**',
];
export const LAYER_ZONES = [
  {
    target: './src/domain',
    from: './src',
    except: ['./domain'],
    message: 'domain/ imports nothing above it',
  },
  { target: './src/db', from: './src', except: ['./db', './domain'], message: 'db/ imports only domain/' },
  {
    target: './src/policy',
    from: './src',
    except: ['./policy', './domain', './db'],
    message: 'policy/ imports only domain/ and db/',
  },
  {
    // The compute engine sits low: it may use domain/ and the typed config, nothing of the features.
    target: './src/compute',
    from: './src',
    except: ['./compute', './domain', './config.ts'],
    message: 'compute/ imports only domain/ and config',
  },
  ...['./src/http', './src/auth'].map((target) => ({
    target,
    from: ABOVE_FEATURE_REPOSITORIES,
    message: 'http/ and auth/ reach features only through repositories',
  })),
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'test-artifacts/**', 'src/console/assets/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeCheckedOnly],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: LAYER_ZONES }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
      // Fastify plugins and hooks are async by convention, awaiting or not.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    // Tests and the benchmark read arbitrary JSON from responses and result files.
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Kysely's expression builder is destructured by design; execFile's error is an Error.
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    // The console's browser scripts (plain ES modules, no build step).
    files: ['src/console/public/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'navigator', 'fetch', 'Node', 'URLSearchParams', 'setTimeout'].map((g) => [
          g,
          'readonly',
        ]),
      ),
    },
  },
);
