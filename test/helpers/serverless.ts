// Serverless-driver tests: Neon's driver pointed at an orgplane app listening on a free port (the
// documented settings of docs/serverless.md), and stand-in "projects" on the run's PostgreSQL
// server when no compute engine is at hand: each is a role with a password and a database only
// that role may connect to, behind an endpoint id of its own.
import { randomBytes } from 'node:crypto';
import { neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import ws from 'ws';
import { PG_URL } from './app.ts';

/** The one setting per path (plus Node 20's missing WebSocket), exactly as docs/serverless.md gives them. */
export function pointDriverAt(port: number): void {
  neonConfig.fetchEndpoint = `http://127.0.0.1:${port}/sql`;
  neonConfig.wsProxy = (host, p) => `127.0.0.1:${port}/v2?address=${host}:${p}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.webSocketConstructor = ws;
}

export interface LocalProject {
  endpointId: string;
  role: string;
  password: string;
  database: string;
  /** Neon's shape: postgresql://role:pw@ep-….us-east-2.aws.neon.tech/db?sslmode=require */
  connectionString: string;
  pooledConnectionString: string;
}

/** A role and a database on the test PostgreSQL server, reachable only by that role. */
export async function createLocalProject(): Promise<LocalProject> {
  const tag = randomBytes(5).toString('hex');
  const role = `sl_${tag}`;
  const database = `sl_${tag}`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const endpointId = `ep-local-${tag}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`create role ${role} login password '${password}'`);
    await admin.query(`create database ${database} owner ${role}`);
    await admin.query(`revoke connect on database ${database} from public`);
    await admin.query(`grant connect on database ${database} to ${role}`);
  } finally {
    await admin.end();
  }
  const cs = (host: string) =>
    `postgresql://${role}:${password}@${host}.us-east-2.aws.neon.tech/${database}?sslmode=require&channel_binding=require`;
  return {
    endpointId,
    role,
    password,
    database,
    connectionString: cs(endpointId),
    pooledConnectionString: cs(`${endpointId}-pooler`),
  };
}

export async function dropLocalProject(p: LocalProject | undefined): Promise<void> {
  if (!p) return;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${p.database} with (force)`);
    await admin.query(`drop role if exists ${p.role}`);
  } finally {
    await admin.end();
  }
}

/** host:port of the run's PostgreSQL server. */
export function localPostgres(): { host: string; port: number } {
  const u = new URL(PG_URL);
  return { host: u.hostname, port: Number(u.port || 5432) };
}
