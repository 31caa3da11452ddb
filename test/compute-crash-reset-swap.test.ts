// SIGKILL of orgplane while a branch reset swaps in the new copy (the old data renamed aside, the
// new one not yet in place) and after the engine's work, before the records follow (real servers
// and psql: node:child_process, via helpers/compute-crash.ts; a slow test). An interrupted reset is
// finished at restart: the branch holds its parent's current rows.
import { crashSuite } from './helpers/compute-crash.ts';

crashSuite('reset', ['replace:old-aside', 'after:replaceBranchData']);
