// SIGKILL of orgplane at each step of a branch deletion (real servers and psql: node:child_process,
// via helpers/compute-crash.ts; a slow test). An interrupted deletion is finished at restart.
import { crashSuite } from './helpers/compute-crash.ts';

crashSuite('delete', ['before:closeEndpoint', 'delete:aside', 'after:deleteBranchData']);
