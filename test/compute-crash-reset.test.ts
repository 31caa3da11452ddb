// SIGKILL of orgplane at the first steps of a branch reset to its parent (restore): before the
// engine works and while the new copy is made (real servers and psql: node:child_process, via
// helpers/compute-crash.ts; a slow test). An interrupted reset is finished at restart: the branch
// holds its parent's current rows. The swap's steps are compute-crash-reset-swap.test.ts's (two
// files, so each stays well inside the runner's per-file timeout on a busy machine).
import { crashSuite } from './helpers/compute-crash.ts';

crashSuite('reset', ['before:replaceBranchData', 'replace:backup-started', 'replace:built']);
