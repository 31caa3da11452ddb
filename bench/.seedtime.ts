import { addManyKeysSqlite } from './seed.ts';
const w = JSON.parse((await import('node:fs')).readFileSync('/tmp/prof/world.json', 'utf8'));
const t = performance.now();
addManyKeysSqlite('/tmp/seedtest/orgplane.db', w.bigOrg, w.adminUserId, 1_000_000);
console.log('1M keys', Math.round(performance.now() - t), 'ms');
