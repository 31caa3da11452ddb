// The PostgreSQL limit: node:http + pg, no framework, running the SQL orgplane runs for each read
// scenario (the key lookup by hash, the caller's role, then the read itself) and answering the same
// JSON. Used beside orgplane-on-PostgreSQL to separate the database's cost from orgplane's.
//   GET /api/v2/organizations/{org_id}/members?limit=N   (default sort: joined_at desc, id desc)
//   GET /api/v2/organizations/{org_id}
//   GET /api/v2/projects?org_id=…&limit=N                (answers BARE_PROJECTS_BODY, base64)
import { createHash } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';

// Same pool settings and int8 parsing as orgplane (src/db/connect.ts).
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: 10,
  statement_timeout: 15000,
  query_timeout: 20000,
  types: {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === 20 ? (v: string) => Number.parseInt(v, 10) : pg.types.getTypeParser(oid, format),
  },
});
const projectsBody = Buffer.from(process.env.BARE_PROJECTS_BODY ?? '', 'base64');

// The statements exactly as Kysely compiles orgplane's queries.
const AUTH = `select "id", "kind", "user_id", "org_id", "project_id" from "api_keys" where "token_hash" = $1 and "revoked_at" is null`;
const ROLE = `select "role" from "members" where "org_id" = $1 and "user_id" = $2`;
const ORG = `select * from "organizations" where "id" = $1`;
const MEMBERS = `select "m".*, "u"."email" as "user_email" from "members" as "m" inner join "users" as "u" on "u"."id" = "m"."user_id" where "m"."org_id" = $1 order by "m"."joined_at" desc, "m"."id" desc limit $2`;
const PROJECTS = `select * from "projects" where "org_id" = $1 and "deleted_at" is null order by "id" limit $2`;

const wire = (iso: string) => (iso.length >= 19 ? `${iso.slice(0, 19)}Z` : iso);

function send(res: http.ServerResponse, status: number, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': buf.length,
      'x-request-id': '0123456789abcdef0123456789abcdef',
      'x-neon-ret-request-id': '0123456789abcdef0123456789abcdef',
    })
    .end(buf);
}

const UNAUTHORIZED = JSON.stringify({ code: '', message: 'unauthorized' });
const FORBIDDEN = JSON.stringify({ code: '', message: 'forbidden' });

/** The caller's user id if the bearer token is a live personal key of a member of orgId. */
async function authorize(authz: string | undefined, orgId: string): Promise<number> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authz ?? '')?.[1];
  if (!token) return 401;
  const key = (await pool.query(AUTH, [createHash('sha256').update(token).digest('hex')])).rows[0];
  if (!key) return 401;
  if (key.kind === 'org') return key.org_id === orgId ? 200 : 403;
  const role = (await pool.query(ROLE, [orgId, key.user_id])).rows[0];
  return role ? 200 : 403;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/ready') {
    await pool.query('select 1');
    return send(res, 200, '{}');
  }
  let m = /^\/api\/v2\/organizations\/([a-z0-9-]+)\/members$/.exec(url.pathname);
  if (m?.[1]) {
    const orgId = m[1];
    const status = await authorize(req.headers.authorization, orgId);
    if (status !== 200) return send(res, status, status === 401 ? UNAUTHORIZED : FORBIDDEN);
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const rows = (await pool.query(MEMBERS, [orgId, limit + 1])).rows;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const next =
      rows.length > limit && last
        ? Buffer.from(JSON.stringify({ s: 'joined_at', o: 'desc', v: last.joined_at, i: last.id })).toString(
            'base64url',
          )
        : undefined;
    return send(
      res,
      200,
      JSON.stringify({
        members: page.map((r) => ({
          member: {
            id: r.id,
            user_id: r.user_id,
            org_id: r.org_id,
            role: r.role,
            joined_at: wire(r.joined_at),
          },
          user: { email: r.user_email },
        })),
        pagination: { ...(next ? { next } : {}), sort_by: 'joined_at', sort_order: 'desc' },
      }),
    );
  }
  m = /^\/api\/v2\/organizations\/([a-z0-9-]+)$/.exec(url.pathname);
  if (m?.[1]) {
    const orgId = m[1];
    const status = await authorize(req.headers.authorization, orgId);
    if (status !== 200) return send(res, status, status === 401 ? UNAUTHORIZED : FORBIDDEN);
    const o = (await pool.query(ORG, [orgId])).rows[0];
    if (!o) return send(res, 404, '{}');
    return send(
      res,
      200,
      JSON.stringify({
        id: o.id,
        name: o.name,
        handle: o.handle,
        plan: o.plan,
        created_at: wire(o.created_at),
        managed_by: o.managed_by,
        updated_at: wire(o.updated_at),
      }),
    );
  }
  if (url.pathname === '/api/v2/projects') {
    const orgId = url.searchParams.get('org_id') ?? '';
    const status = await authorize(req.headers.authorization, orgId);
    if (status !== 200) return send(res, status, status === 401 ? UNAUTHORIZED : FORBIDDEN);
    await pool.query(PROJECTS, [orgId, Number(url.searchParams.get('limit') ?? 10) + 1]);
    return send(res, 200, projectsBody);
  }
  send(res, 404, '{}');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err: Error) => send(res, 500, JSON.stringify({ message: err.message })));
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
process.on('SIGTERM', () => {
  void pool.end().finally(() => process.exit(0));
});
