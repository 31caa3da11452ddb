// SIGKILL of orgplane at each step of a branch creation (real servers and psql:
// node:child_process, via helpers/compute-crash.ts; a slow test). An interrupted creation is
// undone at restart; the parent never loses a row or a session. A compute killed during the copy
// is compute-crash-compute.test.ts's (two files, so each stays well inside the runner's per-file
// timeout on a busy machine).
import { crashSuite } from './helpers/compute-crash.ts';

crashSuite('create', [
  'before:createBranchData',
  'create:backup-started',
  'create:built',
  'after:openEndpoint',
]);
