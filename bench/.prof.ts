import { openDatabase } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { seedWorld } from './seed.ts';
const dir = process.argv[2] as string;
const db = openDatabase({ dataDir: dir });
await migrateToLatest(db);
const w = await seedWorld(db, { bigOrgMembers: 10, bigOrgProjects: 10, transferMany: 1 });
await db.close();
console.log(JSON.stringify(w));
