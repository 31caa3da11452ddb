// What orgplane does with each of Neon's branch and endpoint operations when compute is on, and
// the limits of what it emulates. scripts/gen-coverage.ts reads these (with the route table) to
// write docs/neon-coverage.md; the routes read SERVED_WITH_COMPUTE to skip their refusal.

/** Operations src/projects/unsupported.ts lists that the branches routes serve when compute is on. */
export const SERVED_WITH_COMPUTE: ReadonlySet<string> = new Set([
  'createProjectBranch',
  'deleteProjectBranch',
  'updateProjectBranch',
  'setDefaultProjectBranch',
  'restoreProjectBranch',
  'getProjectBranchSchema',
  'getProjectBranchSchemaComparison',
  'createProjectBranchDatabase',
  'updateProjectBranchDatabase',
  'deleteProjectBranchDatabase',
  'createProjectBranchRole',
  'deleteProjectBranchRole',
  'resetProjectBranchRolePassword',
  'createProjectEndpoint',
  'deleteProjectEndpoint',
  'updateProjectEndpoint',
  'restartProjectEndpoint',
  'startProjectEndpoint',
  'suspendProjectEndpoint',
]);

/** Served, with these limits (what answers one clear 4xx instead). */
export const EMULATION_LIMITS: Readonly<Record<string, string>> = {
  createProjectBranch:
    'copies the parent’s current data; parent_lsn / parent_timestamp, init_source=schema-only and archived answer 422; read_only endpoints answer 422',
  restoreProjectBranch:
    'restores to the head of another branch (reset to parent included, preserve_under_name kept); source_lsn / source_timestamp answer 422',
  getProjectBranchSchema:
    'format=sql only (pg_dump --schema-only); lsn / timestamp and format=json answer 422',
  getProjectBranchSchemaComparison:
    'heads only (unified diff of two schema dumps); lsn / timestamp answer 422',
  createProjectEndpoint: 'read_write endpoints only (one PostgreSQL per branch); read_only answers 422',
  updateProjectEndpoint: 'autoscaling sizes are recorded, not enforced (a compute is one local PostgreSQL)',
  listProjectBranches: 'one page holds every branch unless limit is given',
  createProject:
    'the default branch gets real data, role and database; autoscaling, regions and pg_version are recorded, not enforced',
  getActiveRegions: 'lists the regions orgplane accepts; every compute runs on this machine',
};

/** Why the operations orgplane refuses cannot be emulated, by operationId pattern (first match). */
export const REFUSAL_REASONS: ReadonlyArray<[RegExp, string]> = [
  [
    /NeonAuth|Auth(User|Oauth|Email|Webhook|Plugin|Config)|TrustedDomain/,
    'Neon Auth is a hosted identity service',
  ],
  [/Bucket/, 'object storage buckets are a hosted service'],
  [/DataAPI/, 'the Data API is a hosted PostgREST service'],
  [/Function/, 'functions run on Neon’s hosted runtime'],
  [/Anonymiz|MaskingRules/, 'anonymized branches need Neon’s masking extension'],
  [/Snapshot/, 'snapshots need Neon’s storage history'],
  [/AiGateway/, 'the AI gateway is a hosted service'],
  [/Credential/, 'credentials belong to hosted services'],
  [
    /finalizeRestore|recoverProjectBranch/,
    'needs Neon’s storage history (branches are deleted at once here)',
  ],
  [/Storage/, 'needs Neon’s storage layer'],
  [/VPC/, 'VPC endpoints are cloud networking'],
  [/SpendingLimit|ConsumptionHistory/, 'billing and consumption are Neon’s hosted accounting'],
  [/Advisor/, 'the advisor is a hosted service'],
  [/PreloadLibraries/, 'the shared preload libraries are the engine’s fixed build'],
  [/JWKS/, 'JWKS belong to Neon’s hosted Data API and Auth'],
];
