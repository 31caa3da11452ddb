// SIGKILL of a compute (the parent's postgres) while a branch is copied from it, with orgplane held
// right after pg_backup_start (real servers and psql: node:child_process, via
// helpers/compute-crash.ts; a slow test): the branch is whole or absent, the parent wakes on the
// next connection with every committed row, and a restart over the killed compute repairs nothing
// it should not.
import { crashSuite } from './helpers/compute-crash.ts';

crashSuite('create', [], true);
